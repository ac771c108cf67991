/**
 * `IPFSManager`: the seed plan's class (`constructor(storagePath)`, `init`,
 * `setSwarmKey`, `start`, `stop`, `pin`, `add`, `get`) for the Electron main
 * process, over an in-process storage node instead of a Kubo daemon.
 *
 * One difference from the seed on purpose: the swarm key is kept in memory
 * only (the seed wrote `swarm.key` into the repo; we never write a key to
 * disk). Call `setSwarmKey` again after every app start, with the key the
 * orchestrator sends.
 */
import { stat } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import { InvalidArgumentError, InvalidSwarmKeyError, NotStartedError } from '../errors.js'
import { parseByteSize } from '../storage/bytes.js'
import { createStorageLayout } from '../storage/layout.js'
import { acquireStorageLock } from '../storage/lock.js'
import type { StorageLock } from '../storage/lock.js'
import { validateWorkspaceId } from '../storage/workspace-id.js'
import { parseSwarmKey } from '../swarm-key/index.js'
import { validateCidArg } from './ipc.js'
import { silentLogger } from './logger.js'
import type { IpfsIpcTarget, IpfsStats, IpfsStatus } from './ipc.js'
import type { Logger } from './logger.js'
import type { AbortOptions } from '@libp2p/interface'
import type { StorageNode, WorkspaceNode } from '../node/types.js'
import type { SwarmKey } from '../swarm-key/index.js'

export interface IPFSManagerInit {
  /** Workspace used when `setSwarmKey` names none. @default 'default' */
  workspaceId?: string
  /** Node-wide quota, bytes or text (`'50GB'`). @default 10 GiB */
  quota?: number | string
  /** libp2p listen addresses. @default ['/ip4/0.0.0.0/tcp/0'] (reachable by LAN peers) */
  listen?: string[]
  /** Peers of the workspace to dial on start. */
  bootstrapPeers?: string[]
  /** @default a silent logger */
  logger?: Logger
}

const DEFAULT_QUOTA = 10 * 2 ** 30

/**
 * @example
 * ```ts
 * const ipfs = new IPFSManager('/mnt/data')
 * await ipfs.init()
 * ipfs.setSwarmKey(msg.ipfs_swarm_key, msg.workspace_id)
 * await ipfs.start()
 * const cid = await ipfs.add('/home/me/model.bin')
 * await ipfs.get(cid, '/tmp/model-copy.bin')
 * await ipfs.stop()
 * ```
 */
export class IPFSManager implements IpfsIpcTarget {
  /** `<storagePath>/otherthing-storage/ipfs` (the seed's `repoPath`). */
  readonly repoPath: string
  readonly storagePath: string
  readonly #init: IPFSManagerInit
  readonly #logger: Logger
  #workspaceId: string
  #key: SwarmKey | null = null
  #bootstrapPeers: string[]
  #node: StorageNode | null = null
  #workspace: WorkspaceNode | null = null
  #initialized = false
  #starting: Promise<void> | null = null
  #lock: StorageLock | null = null

  constructor (storagePath: string, init: IPFSManagerInit = {}) {
    if (typeof storagePath !== 'string' || !isAbsolute(storagePath)) {
      throw new InvalidArgumentError('IPFSManager needs an absolute storage path')
    }
    const layout = createStorageLayout(storagePath)
    this.storagePath = layout.storagePath
    this.repoPath = layout.ipfsDir
    this.#init = init
    this.#logger = init.logger ?? silentLogger()
    this.#workspaceId = validateWorkspaceId(init.workspaceId ?? 'default')
    this.#bootstrapPeers = init.bootstrapPeers ?? []
  }

  /** Creates the storage layout (idempotent). */
  async init (options?: AbortOptions): Promise<void> {
    await createStorageLayout(this.storagePath).ensure(options)
    this.#initialized = true
  }

  /**
   * Sets the workspace swarm key (64 hex characters or a Kubo `swarm.key`),
   * in memory only. While running, a new key rotates the workspace onto it;
   * a new workspace id makes the node leave the old workspace and join the
   * new one.
   *
   * @throws {InvalidSwarmKeyError}
   */
  async setSwarmKey (key: string | Uint8Array, workspaceId?: string, bootstrapPeers?: string[]): Promise<void> {
    const parsed = parseSwarmKey(key)
    const id = workspaceId === undefined ? this.#workspaceId : validateWorkspaceId(workspaceId)
    const previousId = this.#workspaceId
    this.#key = parsed
    this.#workspaceId = id
    if (bootstrapPeers !== undefined) this.#bootstrapPeers = bootstrapPeers
    this.#logger.info({ workspaceId: id, fingerprint: parsed.fingerprint }, 'swarm key set')
    const node = this.#node
    if (node === null) return
    if (this.#workspace !== null && previousId === id) {
      this.#workspace = await node.rotateKey(id, parsed, { bootstrapPeers: this.#bootstrapPeers })
      return
    }
    if (this.#workspace !== null) await node.leave(previousId)
    this.#workspace = await node.join(id, parsed, { bootstrapPeers: this.#bootstrapPeers })
  }

  /**
   * Starts the storage node and joins the workspace (idempotent).
   *
   * @throws {InvalidSwarmKeyError} when no swarm key was set
   * @throws {StoragePathLockedError} when another process (or manager) runs on the storage path
   */
  async start (): Promise<void> {
    if (this.#node !== null) return
    this.#starting ??= this.#start().finally(() => { this.#starting = null })
    await this.#starting
  }

  async #start (): Promise<void> {
    if (this.#key === null) throw new InvalidSwarmKeyError('No swarm key set: call setSwarmKey() before start()')
    if (!this.#initialized) await this.init()
    // one process per storage path (a second app instance gets StoragePathLockedError naming the first)
    const lock = await acquireStorageLock(createStorageLayout(this.storagePath).root)
    try {
      await this.#startLocked()
    } catch (err) {
      await lock.release()
      throw err
    }
    this.#lock = lock
  }

  async #startLocked (): Promise<void> {
    if (this.#key === null) throw new InvalidSwarmKeyError('No swarm key set: call setSwarmKey() before start()')
    const { createStorageNode } = await import('../node/index.js')
    const node: StorageNode = await (createStorageNode as any)({
      storagePath: this.storagePath,
      quotaBytes: this.#init.quota === undefined ? DEFAULT_QUOTA : parseByteSize(this.#init.quota),
      ...(this.#init.listen !== undefined ? { listenAddresses: this.#init.listen } : {}),
      logger: this.#logger
    })
    try {
      this.#workspace = await node.join(this.#workspaceId, this.#key, { bootstrapPeers: this.#bootstrapPeers })
    } catch (err) {
      await node.stop().catch((stopErr: unknown) => { this.#logger.warn({ err: stopErr }, 'stopping the node after a failed join failed') })
      throw err
    }
    this.#node = node
    this.#logger.info({ workspaceId: this.#workspaceId, peerId: this.#workspace.peerId }, 'IPFS started')
  }

  /** Stops the node (idempotent). The swarm key stays in memory for the next start. */
  async stop (): Promise<void> {
    // a failed start was already reported to its caller; stop only waits for it to settle
    await this.#starting?.catch((err: unknown) => { this.#logger.debug({ err }, 'start failed before stop') })
    const node = this.#node
    this.#node = null
    this.#workspace = null
    const lock = this.#lock
    this.#lock = null
    try {
      if (node !== null) await node.stop()
    } finally {
      await lock?.release()
    }
  }

  get running (): boolean {
    return this.#workspace !== null
  }

  /** The workspace node. @throws {NotStartedError} */
  get workspace (): WorkspaceNode {
    if (this.#workspace === null) throw new NotStartedError('IPFS is not started')
    return this.#workspace
  }

  status (): IpfsStatus {
    const ws = this.#workspace
    if (ws === null) return { running: false, workspaceId: this.#workspaceId }
    return {
      running: true,
      workspaceId: ws.workspaceId,
      peerId: ws.peerId,
      keyFingerprint: ws.keyFingerprint,
      multiaddrs: ws.multiaddrs(),
      peers: ws.peers().length
    }
  }

  /** Fetches (if needed) and pins content from the workspace. */
  async pin (cid: string, options?: AbortOptions & { timeout?: number }): Promise<void> {
    await this.workspace.pin(validateCidArg(cid), options)
  }

  async unpin (cid: string, options?: AbortOptions): Promise<void> {
    await this.workspace.unpin(validateCidArg(cid), options)
  }

  /**
   * Adds (and pins) a file, streaming it from disk, with Kubo-compatible CIDs.
   *
   * @returns the CID string
   * @throws {InvalidArgumentError} when `filePath` is not a readable regular file
   */
  async add (filePath: string, options?: AbortOptions): Promise<string> {
    const ws = this.workspace
    const st = await stat(filePath).catch((err: unknown) => {
      throw new InvalidArgumentError(`Not a readable file: ${filePath}`, { cause: err })
    })
    if (!st.isFile()) throw new InvalidArgumentError(`Not a readable file: ${filePath}`)
    const { cid } = await ws.addFile(filePath, options)
    return cid.toString()
  }

  /** Writes the content of `cid` to `outputPath` (temp file + rename). */
  async get (cid: string, outputPath: string, options?: AbortOptions & { timeout?: number }): Promise<string> {
    return await this.workspace.get(validateCidArg(cid), outputPath, options)
  }

  async stats (options?: AbortOptions): Promise<IpfsStats> {
    const node = this.#node
    const ws = this.#workspace
    if (node === null || ws === null) throw new NotStartedError('IPFS is not started')
    const [all, mine] = await Promise.all([node.stats(options), ws.stats(options)])
    return {
      quotaBytes: all.quotaBytes,
      usedBytes: all.usedBytes,
      freeBytes: all.freeBytes,
      driveFreeBytes: all.driveFreeBytes,
      pins: mine.pins,
      blocks: mine.blocks,
      peers: mine.peers
    }
  }
}
