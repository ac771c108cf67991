/**
 * What the workspace node's commands (commands/*.ts) work over: collaborators built once at
 * start by the WorkspaceNode and handed in. Each command takes a `Pick<>` of what it needs,
 * as Helia's unixfs commands do, so a new operation (folders, CAR, block API) is one file.
 */
import type { GuardedBlockstore } from './guarded-blockstore.js'
import type { PinStore } from './pins/pin-store.js'
import type { DagTransfer } from './transfer/index.js'
import type { PnetMonitor } from './pnet.js'
import type { BlockLayout } from '../blockstore/block-layout.js'
import type { CodecLoader, HasherLoader } from '@helia/interface'
import type { AbortOptions, Libp2p, Logger } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

/** Hooks through which the storage node shares one quota between workspaces. */
export interface QuotaHooks {
  /** Node-wide usage. */
  usage(): { used: number, limit: number }
  /** A write was refused for lack of space: gc every workspace; `true` when a retry may succeed. */
  onFull(): Promise<boolean>
  /** Called after content was added or pinned (the storage node checks the gc watermark). */
  afterWrite(): void
  /** Free bytes on the drive. */
  driveFreeBytes(): Promise<number>
}

/** Settings the commands read (resolved once, defaults applied). */
export interface WorkspaceSettings {
  /** Default folder of `get()`. */
  cacheDir: string
  /** Per-block want timeout, ms. */
  blockTimeout: number
  /** Retries of a timed-out want. */
  blockRetries: number
  /** Blocks fetched in parallel by a pin. */
  fetchConcurrency: number
  /** Dial timeout, ms. */
  dialTimeout: number
  /** Local block files hashed against their CIDs when `get` and `cat` read them (Kubo: `Datastore.HashOnRead`). */
  hashOnRead: boolean
}

/** Peer bookkeeping shared by the commands that talk to peers. */
export interface PeerReset {
  /** Reconnects every connected peer (see commands/network.ts for why), at most once per block timeout. */
  resetPeers(): Promise<void>
}

export interface WorkspaceComponents {
  workspaceId: string
  /** Helia's blockstore: local blocks first, missing ones from peers over bitswap. */
  blockstore: Blockstore
  /** The local blockstore (no network) with write sessions and gc protection. */
  store: GuardedBlockstore
  /** The on-disk layout of the local blocks (fast local reads, block counts). */
  layout: BlockLayout
  pins: PinStore
  libp2p: Libp2p
  getCodec: CodecLoader
  getHasher: HasherLoader
  log: Logger
  /** Private-network handshakes and key mismatches (`connect` names a refusal by the key). */
  pnet?: PnetMonitor
  /** The storage node's quota hooks (absent for a standalone node). */
  quota?: QuotaHooks
  /** Bulk DAG transfers between workspace peers. */
  transfer: Pick<DagTransfer, 'fetch'>
  peers: PeerReset
  settings: WorkspaceSettings
  /** Runs gc once at a time (gc, and the storage node's gc-all). */
  gc(options?: AbortOptions): Promise<{ removed: number, freedBytes: number }>
}
