/**
 * A machine's storage node: one private workspace node per joined workspace,
 * all under one storage root and one hard quota (a QuotaLedger shared by the
 * workspaces' QuotaBlockstores).
 */
import { logger } from '@libp2p/logger'
import { createQuotaBlockstore, createQuotaLedger } from '../blockstore/index.js'
import { createKeyLock } from '../util/key-lock.js'
import { InvalidArgumentError, NotStartedError, WorkspaceNotJoinedError } from '../errors.js'
import { createStorageLayout } from '../storage/layout.js'
import { getFreeSpace } from '../storage/drives.js'
import { validateWorkspaceId } from '../storage/workspace-id.js'
import { parseSwarmKey, SwarmKey } from '../swarm-key/index.js'
import { createRepoStores, openRepo } from './repo.js'
import { createWorkspaceNode } from './workspace-node.js'
import type { BandwidthLimits } from './bandwidth.js'
import type { AbortOptions, GcResult, JoinOptions, LeaveOptions, StorageNode, StorageNodeStats, WorkspaceNode } from './types.js'
import type { ManagedWorkspaceNode, QuotaHooks } from './workspace-node.js'
import type { QuotaLedger } from '../blockstore/index.js'
import type { StorageLayout } from '../storage/layout.js'

export interface StorageNodeInit {
  /** The folder the user chose; everything goes under `<storagePath>/otherthing-storage`. */
  storagePath: string
  /** The node-wide quota in bytes, shared by every workspace. */
  quotaBytes: number
  /**
   * Listen addresses of each workspace node, or a function of the workspace id
   * (each workspace needs its own port when ports are fixed).
   *
   * @default ['/ip4/0.0.0.0/tcp/0']
   */
  listenAddresses?: string[] | ((workspaceId: string) => string[])
  /** Connection limit of each workspace node. @default 100 */
  maxConnections?: number
  /** Bandwidth limits of each workspace, bytes/s. @default none */
  bandwidth?: BandwidthLimits
  /** Run gc when usage passes this fraction of the quota. @default 0.9 */
  gcWatermark?: number
  /** Bytes that must stay free on the drive. @default min(1% of the drive, 512 MiB) */
  reserveBytes?: number
  /** Per-block want timeout of pins, ms. @default 30000 */
  blockTimeout?: number
  /** Retries of a timed-out block want. @default 3 */
  blockRetries?: number
  /** Blocks fetched in parallel by a pin. @default 32 */
  fetchConcurrency?: number
  /** How long join waits for each bootstrap dial, ms. @default 5000 */
  dialTimeout?: number
  /**
   * Hash every block read from this node's own block files against its CID (`get`, `cat`): a
   * file damaged on disk is `ERR_CORRUPT_BLOCK` instead of wrong bytes. `false` is Kubo's default
   * (`Datastore.HashOnRead: false`): reads trust the disk (`verify()` still finds damage), and a
   * `get` takes ~40% less CPU (see docs/performance.md). @default true
   */
  hashOnRead?: boolean
}

const log = logger('otherthing:node:storage')

function toSwarmKey (key: string | Uint8Array | SwarmKey): SwarmKey {
  return key instanceof SwarmKey ? key : parseSwarmKey(key)
}

class DefaultStorageNode implements StorageNode {
  readonly root: string
  private readonly init: StorageNodeInit
  private readonly layout: StorageLayout
  private readonly ledger: QuotaLedger
  private readonly nodes = new Map<string, ManagedWorkspaceNode>()
  /** per-workspace queue: join/leave/rotate of one workspace run one at a time */
  private readonly workspaceLock = createKeyLock()
  private readonly jobs = new Set<Promise<unknown>>()
  private stopped = false
  private gcAllRunning?: Promise<GcResult>
  private watermarkGcPending = false

  constructor (init: StorageNodeInit) {
    assertQuota(init.quotaBytes)
    if (init.gcWatermark != null && !(init.gcWatermark > 0 && init.gcWatermark <= 1)) {
      throw new InvalidArgumentError('gcWatermark must be in (0, 1]')
    }
    this.init = init
    this.layout = createStorageLayout(init.storagePath)
    this.root = this.layout.root
    this.ledger = createQuotaLedger({
      limitBytes: init.quotaBytes,
      statePath: this.layout.ledgerPath,
      ...(init.reserveBytes != null ? { reserveBytes: init.reserveBytes } : {})
    })
  }

  get quotaBytes (): number {
    return this.ledger.limit
  }

  async open (): Promise<void> {
    await this.layout.ensure()
    await this.ledger.open()
  }

  private async serial<T>(workspaceId: string, fn: () => Promise<T>): Promise<T> {
    const job = this.workspaceLock.run(workspaceId, fn)
    this.jobs.add(job)
    try {
      return await job
    } finally {
      this.jobs.delete(job)
    }
  }

  private assertRunning (): void {
    if (this.stopped) throw new NotStartedError('The storage node is stopped')
  }

  private hooks (): QuotaHooks {
    return {
      usage: () => ({ used: this.ledger.used, limit: this.ledger.limit }),
      onFull: async () => {
        const { freedBytes } = await this.gcAll()
        return freedBytes > 0
      },
      afterWrite: () => { this.checkWatermark() },
      driveFreeBytes: async () => (await getFreeSpace(this.root)).availableBytes
    }
  }

  private listenFor (workspaceId: string): string[] | undefined {
    const l = this.init.listenAddresses
    return typeof l === 'function' ? l(workspaceId) : l
  }

  private async startNode (workspaceId: string, key: SwarmKey, bootstrapPeers: string[] | undefined): Promise<ManagedWorkspaceNode> {
    const { repo, dirs } = await this.layout.ensureWorkspace(workspaceId)
    const node = createWorkspaceNode({
      workspaceId,
      swarmKey: key,
      blocksPath: repo.blocks,
      datastorePath: repo.datastore,
      cacheDir: dirs.cache,
      listenAddresses: this.listenFor(workspaceId),
      bootstrapPeers,
      maxConnections: this.init.maxConnections,
      bandwidth: this.init.bandwidth,
      blockTimeout: this.init.blockTimeout,
      blockRetries: this.init.blockRetries,
      fetchConcurrency: this.init.fetchConcurrency,
      dialTimeout: this.init.dialTimeout,
      hashOnRead: this.init.hashOnRead,
      // the storage node builds the stores it hands in: each workspace's blocks count against the one ledger
      openRepo: async () => openRepo(createRepoStores({
        blocksPath: repo.blocks,
        datastorePath: repo.datastore,
        wrapBlockstore: (child, layout) => createQuotaBlockstore({ child, ledger: this.ledger, name: workspaceId, layout })
      })),
      quota: this.hooks()
    })
    await node.start()
    return node
  }

  async join (workspaceId: string, swarmKey: string | Uint8Array | SwarmKey, options: JoinOptions = {}): Promise<WorkspaceNode> {
    validateWorkspaceId(workspaceId)
    const key = toSwarmKey(swarmKey)
    options.signal?.throwIfAborted()
    this.assertRunning()
    return this.serial(workspaceId, async () => {
      this.assertRunning()
      const existing = this.nodes.get(workspaceId)
      if (existing != null) {
        if (existing.keyFingerprint !== key.fingerprint) {
          return this.rotateLocked(workspaceId, key, options)
        }
        if (options.bootstrapPeers != null) await existing.dialPeers(options.bootstrapPeers, options)
        return existing
      }
      const node = await this.startNode(workspaceId, key, options.bootstrapPeers)
      this.nodes.set(workspaceId, node)
      return node
    })
  }

  async leave (workspaceId: string, options: LeaveOptions = {}): Promise<void> {
    validateWorkspaceId(workspaceId)
    options.signal?.throwIfAborted()
    await this.serial(workspaceId, async () => {
      const node = this.nodes.get(workspaceId)
      this.nodes.delete(workspaceId)
      await node?.stop()
      if (options.purge === true) {
        await this.layout.removeWorkspace(workspaceId)
        await this.ledger.removeStore(workspaceId)
      }
    })
  }

  async rotateKey (workspaceId: string, newKey: string | Uint8Array | SwarmKey, options: JoinOptions = {}): Promise<WorkspaceNode> {
    validateWorkspaceId(workspaceId)
    const key = toSwarmKey(newKey)
    options.signal?.throwIfAborted()
    this.assertRunning()
    return this.serial(workspaceId, async () => this.rotateLocked(workspaceId, key, options))
  }

  /** Restarts the workspace node under a new key: same datastore (peer id, pins), same blocks. */
  private async rotateLocked (workspaceId: string, key: SwarmKey, options: JoinOptions): Promise<WorkspaceNode> {
    const old = this.nodes.get(workspaceId)
    if (old == null) throw new WorkspaceNotJoinedError(`Workspace ${workspaceId} is not joined`)
    this.nodes.delete(workspaceId)
    await old.stop()
    const node = await this.startNode(workspaceId, key, options.bootstrapPeers)
    this.nodes.set(workspaceId, node)
    return node
  }

  workspace (workspaceId: string): WorkspaceNode {
    const node = this.nodes.get(workspaceId)
    if (node == null) throw new WorkspaceNotJoinedError(`Workspace ${workspaceId} is not joined`)
    return node
  }

  workspaces (): WorkspaceNode[] {
    return [...this.nodes.values()]
  }

  /** Garbage-collects every workspace (one run at a time). */
  async gcAll (options: AbortOptions = {}): Promise<GcResult> {
    if (this.gcAllRunning != null) return this.gcAllRunning
    const run = (async () => {
      const total: GcResult = { removed: 0, freedBytes: 0 }
      for (const node of this.nodes.values()) {
        if (!node.isRunning) continue
        try {
          const r = await node.gc(options)
          total.removed += r.removed
          total.freedBytes += r.freedBytes
        } catch (err) {
          if (options.signal?.aborted === true) throw err
          log.error('gc of workspace %s failed: %e', node.workspaceId, err)
        }
      }
      return total
    })()
    this.gcAllRunning = run
    try {
      return await run
    } finally {
      this.gcAllRunning = undefined
    }
  }

  private checkWatermark (): void {
    const watermark = this.init.gcWatermark ?? 0.9
    if (this.stopped || this.watermarkGcPending || !Number.isFinite(this.ledger.limit)) return
    if (this.ledger.used < watermark * this.ledger.limit) return
    this.watermarkGcPending = true
    setImmediate(() => {
      this.gcAll().catch((err) => { log.error('watermark gc failed: %e', err) }).finally(() => { this.watermarkGcPending = false })
    })
  }

  async setQuota (bytes: number): Promise<void> {
    assertQuota(bytes)
    this.ledger.setLimit(bytes)
    this.checkWatermark()
  }

  async stats (options: AbortOptions = {}): Promise<StorageNodeStats> {
    const usage = this.ledger.usage()
    const workspaces = await Promise.all([...this.nodes.values()].filter(n => n.isRunning).map(async n => n.stats(options)))
    const drive = await getFreeSpace(this.root, options)
    return {
      quotaBytes: usage.limit,
      usedBytes: usage.used,
      freeBytes: usage.free,
      driveFreeBytes: drive.availableBytes,
      workspaces
    }
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await Promise.allSettled([...this.jobs])
    await this.gcAllRunning?.catch((err) => { log('gc ended with %e at stop', err) })
    const nodes = [...this.nodes.values()]
    this.nodes.clear()
    await Promise.allSettled(nodes.map(async n => n.stop()))
    await this.ledger.close()
  }
}

function assertQuota (bytes: number): void {
  if (typeof bytes !== 'number' || Number.isNaN(bytes) || bytes < 0 || (!Number.isSafeInteger(bytes) && bytes !== Infinity)) {
    throw new InvalidArgumentError('quotaBytes must be a non-negative integer (or Infinity)')
  }
}

/**
 * Opens a storage node on `storagePath` (creating the layout) with one quota
 * for all its workspaces. Join workspaces with `join()`; nothing is joined
 * automatically and no swarm key is ever written to disk.
 *
 * @example
 * ```ts
 * const node = await createStorageNode({ storagePath: '/mnt/data', quotaBytes: 50 * 2 ** 30 })
 * const ws = await node.join('team-alpha', swarmKeyHex, { bootstrapPeers })
 * const { cid } = await ws.add(new TextEncoder().encode('hello world'))
 * ```
 */
export async function createStorageNode (init: StorageNodeInit): Promise<StorageNode> {
  const node = new DefaultStorageNode(init)
  await node.open()
  return node
}
