/**
 * The public contract of a workspace node and of the multi-workspace storage
 * node. The orchestrator client, the node runner's HTTP API and the IPC
 * handlers are written against these interfaces only.
 */
import type { SwarmKey } from '../swarm-key/index.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { PnetMonitor } from './pnet.js'
import type { ProgressOptions, AddOptions, AddResult, AddSource, CatOptions, GetOptions } from './options.js'
import type { AddAllEntry, AddAllOptions, AddedEntry } from './unixfs/options.js'
import type { LsEntry, ResolveResult } from './unixfs/index.js'
import type { BlockPutOptions, BlockStat, DagGetOptions, DagGetResult, RefsOptions } from './blocks/index.js'
import type { ImportCarOptions, ImportCarResult } from './car/index.js'

// folders, CAR and the block API (issue #12): the types live beside their operations
export type { AddAllEntry, AddAllOptions, AddedEntry, AddedEntryType } from './unixfs/options.js'
export type { LsEntry, LsOptions, ResolveResult } from './unixfs/index.js'
export type { BlockFormat, BlockPutOptions, BlockStat, DagGetOptions, DagGetResult, HashName, RefsOptions } from './blocks/index.js'
export type { ImportCarOptions, ImportCarResult } from './car/index.js'
export type { CidOrPath } from './blocks/components.js'

export type { AbortOptions }
export type { PnetMonitor, PnetMonitorEvents, SwarmKeyMismatch, MismatchReason } from './pnet.js'
export type { ByteProgress, ProgressOptions, AddOptions, AddResult, AddSource, CatOptions, GetOptions } from './options.js'

export interface PinOptions extends ProgressOptions {
  /** Give up after this many ms. */
  timeout?: number
  name?: string
  /**
   * Multiaddrs (with `/p2p/<id>`) of peers holding the content (the orchestrator's
   * `pin_content.providers`): dialed first, then every connected peer shares the transfer.
   */
  providers?: string[]
}

export interface PinInfo {
  cid: CID
  /** Content size in bytes. */
  size: number
  name?: string
}

export interface StatResult {
  cid: CID
  /** Content size in bytes (file size for UnixFS files). */
  size: number
  /** Bytes of all blocks of the DAG. */
  dagSize: number
  /** Number of blocks in the DAG. */
  blocks: number
  /** Whether every block is stored locally. */
  local: boolean
  pinned: boolean
}

export interface GcResult {
  /** Blocks removed. */
  removed: number
  /** Bytes freed. */
  freedBytes: number
}

export interface VerifyResult {
  /** Blocks checked. */
  checked: number
  /** CIDs whose bytes did not match and were removed. */
  corrupt: CID[]
  /** Pinned roots fetched again from peers after corruption. */
  refetched: CID[]
  /** Pinned roots that could not be repaired. */
  failed: CID[]
}

export interface WorkspaceNodeStats {
  workspaceId: string
  peerId: string
  /** Bytes of blocks this workspace stores. */
  repoBytes: number
  blocks: number
  pins: number
  peers: number
  /** The node-wide quota (shared by every workspace of the node). */
  quotaBytes: number
  /** Bytes used by all workspaces of the node. */
  quotaUsedBytes: number
  /** Real free space on the drive. */
  driveFreeBytes: number
}

export interface PeerInfo {
  peerId: string
  addresses: string[]
}

/** One workspace's private Helia node. */
export interface WorkspaceNode {
  readonly workspaceId: string
  /** The libp2p peer id (stable across restarts). */
  readonly peerId: string
  /** Private-network handshakes and swarm key mismatches (`mismatch` events; counters). */
  readonly pnet?: PnetMonitor
  /** Fingerprint of the current swarm key (safe to log). */
  readonly keyFingerprint: string
  /** Listening multiaddrs, each ending in `/p2p/<peer id>`. */
  multiaddrs(): string[]

  add(source: AddSource, options?: AddOptions): Promise<AddResult>
  addFile(path: string, options?: AddOptions): Promise<AddResult>
  cat(cid: CID | string, options?: CatOptions): AsyncIterable<Uint8Array>
  /** Writes the content to `outputPath` (default: the workspace's `cache/<cid>`) through a temp file + rename. Returns the path. */
  get(cid: CID | string, outputPath?: string, options?: GetOptions): Promise<string>
  pin(cid: CID | string, options?: PinOptions): Promise<PinInfo>
  unpin(cid: CID | string, options?: AbortOptions): Promise<void>
  isPinned(cid: CID | string, options?: AbortOptions): Promise<boolean>
  pins(options?: AbortOptions): Promise<PinInfo[]>
  stat(cid: CID | string, options?: AbortOptions & { timeout?: number, offline?: boolean }): Promise<StatResult>
  gc(options?: AbortOptions): Promise<GcResult>
  verify(options?: AbortOptions): Promise<VerifyResult>
  connect(multiaddr: string, options?: AbortOptions): Promise<void>
  peers(): PeerInfo[]
  stats(options?: AbortOptions): Promise<WorkspaceNodeStats>

  // ---- folders, CAR, blocks (issue #12). A `CID | string` argument may be a path `<cid>/a/b` ----
  /** Adds files, folders and symlinks as one UnixFS tree (Kubo's `ipfs add -r` CIDs); yields every entry, the root last. All or nothing. */
  addAll(source: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>, options?: AddAllOptions): AsyncIterable<AddedEntry>
  /** Adds a folder (or one file) from disk; returns the root entry. */
  addDirectory(path: string, options?: AddAllOptions): Promise<AddedEntry>
  /** The CID a path names (through HAMT shards). @throws {PathNotFoundError} */
  resolve(cidOrPath: CID | string, options?: AbortOptions & { timeout?: number }): Promise<ResolveResult>
  /** Streams the entries of a directory. @throws {NotADirectoryError} */
  ls(cidOrPath: CID | string, options?: AbortOptions & { timeout?: number }): AsyncIterable<LsEntry>
  /** Streams a CARv1 of the whole DAG under the resolved node. */
  exportCar(cidOrPath: CID | string, options?: AbortOptions & { timeout?: number }): AsyncIterable<Uint8Array>
  /** Imports a CAR: every block checked against its CID, roots pinned, all or nothing. @throws {InvalidCarError} @throws {BlockVerificationError} */
  importCar(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array, options?: ImportCarOptions): Promise<ImportCarResult>
  /** A block's bytes; `timeout` ms without it is a ContentNotFoundError. */
  blockGet(cid: CID | string, options?: AbortOptions & { timeout?: number, offline?: boolean }): Promise<Uint8Array>
  blockPut(bytes: Uint8Array, options?: BlockPutOptions): Promise<CID>
  blockStat(cid: CID | string, options?: AbortOptions & { timeout?: number, offline?: boolean }): Promise<BlockStat>
  /** @throws {BlockPinnedError} when a pin holds the block */
  blockRm(cid: CID | string, options?: AbortOptions): Promise<void>
  /** The decoded value a CID or path names (UnixFS names, then dag-cbor/dag-json fields, following links), as Kubo's `dag get`. @throws {PathNotFoundError} */
  dagGet(cidOrPath: CID | string, options?: DagGetOptions): Promise<DagGetResult>
  /** CIDs linked from the node (recursively and uniquely when asked). */
  refs(cidOrPath: CID | string, options?: RefsOptions): AsyncIterable<CID>
  /** Every block stored locally. */
  refsLocal(options?: AbortOptions): AsyncIterable<CID>
}

export interface JoinOptions extends AbortOptions {
  /** Multiaddrs (with `/p2p/<id>`) of the workspace's other peers to dial. */
  bootstrapPeers?: string[]
}

export interface LeaveOptions extends AbortOptions {
  /** Delete the workspace's blocks, datastore and scratch folders. @default false */
  purge?: boolean
}

export interface StorageNodeStats {
  quotaBytes: number
  usedBytes: number
  freeBytes: number
  driveFreeBytes: number
  workspaces: WorkspaceNodeStats[]
}

/** A machine's storage node: one private workspace node per joined workspace, one quota for all. */
export interface StorageNode {
  /** The `<path>/otherthing-storage` root. */
  readonly root: string
  join(workspaceId: string, swarmKey: string | Uint8Array | SwarmKey, options?: JoinOptions): Promise<WorkspaceNode>
  leave(workspaceId: string, options?: LeaveOptions): Promise<void>
  rotateKey(workspaceId: string, newKey: string | Uint8Array | SwarmKey, options?: JoinOptions): Promise<WorkspaceNode>
  /** @throws {WorkspaceNotJoinedError} */
  workspace(workspaceId: string): WorkspaceNode
  workspaces(): WorkspaceNode[]
  stats(options?: AbortOptions): Promise<StorageNodeStats>
  setQuota(bytes: number): Promise<void>
  readonly quotaBytes: number
  stop(): Promise<void>
}
