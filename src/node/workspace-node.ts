/**
 * One workspace's private Helia node: libp2p over TCP with the workspace's pnet key, bitswap
 * as the only block broker, libp2p as the only router, its blocks in the stores its owner
 * built (the storage node's quota blockstore) and its pins, peer store and peer identity in
 * its own datastore.
 *
 * The class is lifecycle only: `start()` builds the components (components.ts) and every
 * operation is one line calling a command (commands/*.ts, one operation a file).
 */
import { withBitswap } from '@helia/bitswap'
import { logger } from '@libp2p/logger'
import { NotStartedError } from '../errors.js'
import { add } from './commands/add.js'
import { addFile } from './commands/add-file.js'
import { cat } from './commands/cat.js'
import { gc } from './commands/gc.js'
import { get } from './commands/get.js'
import { connect, createPeerReset, dialPeers, multiaddrs, peers } from './commands/network.js'
import { pin } from './commands/pin.js'
import { isPinned, pins, unpin } from './commands/pins.js'
import { stat } from './commands/stat.js'
import { stats } from './commands/stats.js'
import { verify } from './commands/verify.js'
import { createGuardedBlockstore } from './guarded-blockstore.js'
import { createLeanHelia, withWorkspaceLibp2p } from './helia-light.js'
import { workspaceLibp2pOptions } from './libp2p-config.js'
import { createPnetMonitor } from './pnet.js'
import { createPinStore } from './pins/pin-store.js'
import { createRepoStores, openRepo } from './repo.js'
import { createBlockFileReader, createDagTransfer } from './transfer/index.js'
import type { BandwidthLimits } from './bandwidth.js'
import type { QuotaHooks, WorkspaceComponents, WorkspaceSettings } from './components.js'
import type { OpenRepo, Repo } from './repo.js'
import type { DagTransfer } from './transfer/index.js'
import type { PnetMonitor } from './pnet.js'
import type {
  AbortOptions, AddOptions, AddResult, AddSource, CatOptions, GcResult, GetOptions, PeerInfo, PinInfo,
  PinOptions, StatResult, VerifyResult, WorkspaceNode, WorkspaceNodeStats
} from './types.js'
import type { SwarmKey } from '../swarm-key/index.js'
// folders, CAR, blocks (issue #12)
import { addAll, addDirectory, ls, resolvePath } from './unixfs/index.js'
import { catPath, contentComponents, getPath, inSession, inSessionIter, resolveCid } from './unixfs/commands.js'
import { blockGet, blockPut, blockRm, blockStat, dagGet, EXTRA_CODECS, EXTRA_HASHERS, refs, refsLocal } from './blocks/index.js'
import { exportCar, importCar } from './car/index.js'
import type { ContentComponents } from './blocks/index.js'
import type { AddAllEntry, AddAllOptions, AddedEntry, BlockPutOptions, BlockStat, DagGetOptions, DagGetResult, ImportCarOptions, ImportCarResult, LsEntry, RefsOptions, ResolveResult } from './types.js'
import type { Helia } from '@helia/interface'
import type { Libp2p } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type { QuotaHooks }

export interface WorkspaceNodeInit {
  workspaceId: string
  swarmKey: SwarmKey
  /** `<root>/ipfs/workspaces/<id>/blocks` (used when `openRepo` is not given) */
  blocksPath: string
  /** `<root>/ipfs/workspaces/<id>/datastore` (used when `openRepo` is not given) */
  datastorePath: string
  /**
   * Opens the workspace's stores (the storage node builds them with its quota blockstore).
   * Called at each start; the node closes the repo at stop.
   *
   * @default the bare FsBlockstore and LevelDatastore under blocksPath / datastorePath (no quota)
   */
  openRepo?: OpenRepo
  /** Default folder of `get()`: `<root>/workspace-<id>/cache`. */
  cacheDir: string
  /** @default ['/ip4/0.0.0.0/tcp/0'] */
  listenAddresses?: string[]
  /** Workspace peers to dial at start (multiaddrs with `/p2p/<id>`). */
  bootstrapPeers?: string[]
  /** libp2p connection manager limit. @default 100 */
  maxConnections?: number
  /** Bandwidth limits of this workspace, bytes/s. @default none */
  bandwidth?: BandwidthLimits
  /** How long one block want may take before it is sent again, ms. @default 30000 */
  blockTimeout?: number
  /** How many times a timed-out block want is retried. @default 3 */
  blockRetries?: number
  /** Blocks fetched in parallel by pin(). @default 32 */
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
  /** The storage node's quota hooks. @default no quota */
  quota?: QuotaHooks
}

interface Running {
  repo: Repo
  helia: Helia & { libp2p: Libp2p }
  transfer: DagTransfer
  components: WorkspaceComponents
}

class DefaultWorkspaceNode implements WorkspaceNode {
  readonly workspaceId: string
  readonly keyFingerprint: string
  private readonly init: WorkspaceNodeInit
  private readonly settings: WorkspaceSettings
  private readonly log
  private running?: Running
  private gcRunning?: Promise<GcResult>
  /** Private-network handshakes and key mismatches of this workspace (see pnet-guard.ts). */
  readonly pnet: PnetMonitor = createPnetMonitor()

  constructor (init: WorkspaceNodeInit) {
    this.init = init
    this.workspaceId = init.workspaceId
    this.keyFingerprint = init.swarmKey.fingerprint
    this.log = logger(`otherthing:node:workspace:${init.workspaceId}`)
    this.settings = {
      cacheDir: init.cacheDir,
      blockTimeout: init.blockTimeout ?? 30_000,
      blockRetries: init.blockRetries ?? 3,
      fetchConcurrency: init.fetchConcurrency ?? 32,
      dialTimeout: init.dialTimeout ?? 5000,
      hashOnRead: init.hashOnRead ?? true
    }
  }

  private get c (): WorkspaceComponents {
    if (this.running == null) throw new NotStartedError(`Workspace ${this.workspaceId} node is not running`)
    return this.running.components
  }

  get helia (): Helia & { libp2p: Libp2p } {
    if (this.running == null) throw new NotStartedError(`Workspace ${this.workspaceId} node is not running`)
    return this.running.helia
  }

  get peerId (): string { return this.c.libp2p.peerId.toString() }
  get isRunning (): boolean { return this.running != null }

  async start (): Promise<void> {
    if (this.running != null) return
    const repo = await (this.init.openRepo ?? (async () => openRepo(createRepoStores(this.init))))()
    try {
      const pinStore = createPinStore(repo.datastore)
      // a crash between a pin's block records and its pin record left names to undo
      const repaired = await pinStore.repair()
      if (repaired.interrupted > 0) this.log('repaired %d interrupted pins (%d block records)', repaired.interrupted, repaired.records)
      const store = createGuardedBlockstore({
        child: repo.blockstore,
        onFull: this.init.quota?.onFull,
        isPinned: async (cid) => pinStore.isPinned(cid)
      })
      // the helia and @helia/libp2p entry points load ~70 MiB of modules we never run (helia-light.ts)
      const helia = withBitswap(withWorkspaceLibp2p(await createLeanHelia({
        blockstore: store,
        datastore: repo.datastore,
        routers: [],
        blockBrokers: [],
        codecs: EXTRA_CODECS,
        hashers: EXTRA_HASHERS
      }), workspaceLibp2pOptions({
        swarmKey: this.init.swarmKey,
        listenAddresses: this.init.listenAddresses,
        maxConnections: this.init.maxConnections,
        bandwidth: this.init.bandwidth,
        pnetMonitor: this.pnet
      })))
      await helia.start()
      // bulk DAG transfers between workspace peers (pin), on this workspace's libp2p only
      const transfer = createDagTransfer({
        libp2p: helia.libp2p,
        blockstore: store,
        // served blocks read straight from their files, small ones in batches on the fs worker
        readBlock: createBlockFileReader(repo.layout),
        getCodec: helia.getCodec,
        getHasher: helia.getHasher,
        progressTimeout: Math.min(this.settings.blockTimeout, 10_000)
      })
      await transfer.start()
      const settings = this.settings
      const log = this.log
      const components: WorkspaceComponents = {
        workspaceId: this.workspaceId,
        blockstore: helia.blockstore,
        store,
        layout: repo.layout,
        pins: pinStore,
        libp2p: helia.libp2p,
        getCodec: helia.getCodec,
        getHasher: helia.getHasher,
        log,
        pnet: this.pnet,
        quota: this.init.quota,
        transfer,
        peers: createPeerReset({ libp2p: helia.libp2p, settings, log }),
        settings,
        gc: async (options) => this.gc(options)
      }
      this.running = { repo, helia, transfer, components }
    } catch (err) {
      await repo.close()
      throw err
    }
    if (this.init.bootstrapPeers != null && this.init.bootstrapPeers.length > 0) {
      await this.dialPeers(this.init.bootstrapPeers)
    }
  }

  async stop (): Promise<void> {
    const running = this.running
    if (running == null) return
    this.running = undefined
    try {
      await this.gcRunning?.catch((err) => { this.log('gc ended with %e at stop', err) })
      await running.transfer.stop().catch((err) => { this.log.error('stopping the DAG transfer: %e', err) })
      await running.helia.stop()
    } finally {
      await running.repo.close()
    }
  }

  /** Dials each peer (best effort) and remembers it so libp2p reconnects to it. */
  async dialPeers (addresses: string[], options?: AbortOptions): Promise<void> { await dialPeers(this.c, addresses, options) }
  multiaddrs (): string[] { return multiaddrs(this.c) }
  async add (source: AddSource, options?: AddOptions): Promise<AddResult> { return add(this.c, source, options) }
  async addFile (path: string, options?: AddOptions): Promise<AddResult> { return addFile(this.c, path, options) }
  cat (cid: CID | string, options: CatOptions = {}): AsyncIterable<Uint8Array> { return catPath(this.c, cid, options, c => cat(this.c, c, options)) }
  async get (cid: CID | string, outputPath?: string, options: GetOptions = {}): Promise<string> { return getPath(this.c, cid, outputPath, options, async c => get(this.c, c, outputPath, options)) }
  async pin (cid: CID | string, options: PinOptions = {}): Promise<PinInfo> { return pin(this.c, await resolveCid(this.c, cid, options), options) }
  async unpin (cid: CID | string, options?: AbortOptions): Promise<void> { await unpin(this.c, cid, options) }
  async isPinned (cid: CID | string, options?: AbortOptions): Promise<boolean> { return isPinned(this.c, cid, options) }
  async pins (options?: AbortOptions): Promise<PinInfo[]> { return pins(this.c, options) }
  async stat (cid: CID | string, options: AbortOptions & { timeout?: number, offline?: boolean } = {}): Promise<StatResult> { return stat(this.c, await resolveCid(this.c, cid, options), options) }
  async verify (options?: AbortOptions): Promise<VerifyResult> { return verify(this.c, options) }
  async connect (address: string, options?: AbortOptions): Promise<void> { await connect(this.c, address, options) }
  peers (): PeerInfo[] { return peers(this.c) }
  async stats (options?: AbortOptions): Promise<WorkspaceNodeStats> { return stats(this.c, options) }

  // ---- folders, CAR, blocks (issue #12): one-line delegations to unixfs/, car/, blocks/ ----
  private get content (): ContentComponents { return contentComponents(this.c) }
  addAll (source: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>, options?: AddAllOptions): AsyncIterable<AddedEntry> { return inSessionIter(this.c, () => addAll(this.content, source, options)) }
  async addDirectory (path: string, options?: AddAllOptions): Promise<AddedEntry> { return inSession(this.c, async () => addDirectory(this.content, path, options)) }
  async resolve (cidOrPath: CID | string, options: AbortOptions & { timeout?: number } = {}): Promise<ResolveResult> { return resolvePath(this.content, cidOrPath, options) }
  ls (cidOrPath: CID | string, options?: AbortOptions & { timeout?: number }): AsyncIterable<LsEntry> { return ls(this.content, cidOrPath, options) }
  exportCar (cidOrPath: CID | string, options?: AbortOptions & { timeout?: number }): AsyncIterable<Uint8Array> { return exportCar(this.content, cidOrPath, options) }
  async importCar (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array, options?: ImportCarOptions): Promise<ImportCarResult> { return inSession(this.c, async () => importCar(this.content, source, options)) }
  async blockGet (cid: CID | string, options?: AbortOptions & { timeout?: number, offline?: boolean }): Promise<Uint8Array> { return blockGet(this.content, cid, options) }
  async blockPut (bytes: Uint8Array, options?: BlockPutOptions): Promise<CID> { return inSession(this.c, async () => blockPut(this.content, bytes, options)) }
  async blockStat (cid: CID | string, options?: AbortOptions & { timeout?: number, offline?: boolean }): Promise<BlockStat> { return blockStat(this.content, cid, options) }
  async blockRm (cid: CID | string, options?: AbortOptions): Promise<void> { return blockRm(this.content, cid, options) }
  async dagGet (cidOrPath: CID | string, options?: DagGetOptions): Promise<DagGetResult> { return dagGet(this.content, cidOrPath, options) }
  refs (cidOrPath: CID | string, options?: RefsOptions): AsyncIterable<CID> { return refs(this.content, cidOrPath, options) }
  refsLocal (options?: AbortOptions): AsyncIterable<CID> { return refsLocal(this.content, options) }

  /** One gc at a time: a second call while one runs gets the running one's result. */
  async gc (options?: AbortOptions): Promise<GcResult> {
    if (this.gcRunning != null) return this.gcRunning
    const run = gc(this.c, options)
    this.gcRunning = run
    try {
      return await run
    } finally {
      this.gcRunning = undefined
    }
  }
}

/** The running workspace node, with the internals the storage node and tests need. */
export interface ManagedWorkspaceNode extends WorkspaceNode {
  /** @internal the Helia node (tests inspect its routers and brokers) */
  readonly helia: Helia & { libp2p: Libp2p }
  readonly isRunning: boolean
  start(): Promise<void>
  stop(): Promise<void>
  dialPeers(peers: string[], options?: AbortOptions): Promise<void>
}

/**
 * Creates (not started) a workspace node. The storage node is the usual way to get one; use
 * this directly for a single workspace without a shared quota.
 */
export function createWorkspaceNode (init: WorkspaceNodeInit): ManagedWorkspaceNode {
  return new DefaultWorkspaceNode(init)
}
