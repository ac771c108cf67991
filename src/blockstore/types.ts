import type { BlockLayout } from './block-layout.js'
import type { QuotaLedger } from './ledger.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore, InputPair } from 'interface-blockstore'
import type { ShardingStrategy } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'

/** Options every async operation accepts (libp2p's, re-exported for this module's users). */
export type { AbortOptions }

export interface QuotaBlockstoreInit {
  /** The blockstore that really stores the blocks (blockstore-fs in production). */
  child: Blockstore
  /** The ledger shared by every store of the node. */
  ledger: QuotaLedger
  /** This store's id in the ledger, e.g. the workspace id. */
  name: string
  /**
   * The blockstore-fs directory: used for the free-space check, for fast rescans (stat, don't
   * read), to size blocks before deleting them and to remove partial files of refused writes.
   *
   * @default layout.directory, or child.path when child is an FsBlockstore, otherwise none
   */
  directory?: string
  /**
   * How blocks are laid out under `directory` (give the same one the FsBlockstore child uses).
   *
   * @default blockstore-fs's NextToLast (FsBlockstore's default)
   */
  shardingStrategy?: ShardingStrategy
  /**
   * The layout of the child's directory (see block-layout.ts); built from `directory` and
   * `shardingStrategy` when not given.
   */
  layout?: BlockLayout
  /**
   * Rescan the store when it opens even if the ledger says its usage is exact.
   *
   * @default false
   */
  rescanOnOpen?: boolean
  /**
   * Parallel puts in putMany.
   *
   * @default 50
   */
  putManyConcurrency?: number
  /**
   * Parallel deletes in deleteMany.
   *
   * @default 50
   */
  deleteManyConcurrency?: number
}

export interface QuotaPutOptions extends AbortOptions {
  /** Called when this put stored the block (it was not stored before; counted in the ledger). */
  onStored?: () => void
  /**
   * Given, the caller lends the memory of the block's bytes (a whole `Uint8Array` whose
   * `ArrayBuffer` nothing else uses meanwhile): a large block's buffer may be transferred to the
   * fs write worker and back (detached meanwhile, no copy). When that happened this is called with
   * the bytes on the buffer that came back, before the put settles (resolved or rejected); when it
   * is not called, the bytes passed in stayed where they were.
   */
  returned?: (bytes: Uint8Array) => void
}

/** A blockstore-fs directory a hash worker may write blocks into (NextToLast names). */
export interface FreshTarget { directory: string }

/** What `putFresh`'s writer reports: the block's CID and what the write did. */
export interface FreshWriteResult {
  cid: CID
  /** `created`: the write made the block's file; `error`: an fs error code (nothing written); absent: not written. */
  write?: { created?: boolean, error?: string, message?: string }
}

/** A Blockstore that refuses writes above the ledger's quota or below the drive's reserve. */
export interface QuotaBlockstore extends Blockstore {
  /** The store's id in the ledger. */
  readonly name: string
  /** Bytes stored in this store. */
  readonly used: number
  has(cid: CID, options?: AbortOptions): Promise<boolean>
  /** Throws QuotaExceededError or DiskReserveError (and writes nothing) when the block does not fit. */
  put(cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: QuotaPutOptions): Promise<CID>
  /** Always true: `put` calls `options.onStored` when it stored a block that was not there. */
  readonly reportsStored: true
  /**
   * True when a resolved `put` keeps no reference to the bytes it was given (the child is an
   * FsBlockstore: the bytes were copied to a file), so the caller may reuse that memory.
   */
  readonly copiesBytes: boolean
  putMany(source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID>
  /**
   * Where the caller's own thread may write a block of `size` bytes into this store (see
   * `putFresh`), or undefined: the block goes through `put`.
   */
  freshTarget(size: number): FreshTarget | undefined
  /**
   * A block the caller hashes and writes itself, off this thread (`run`, e.g. a hash worker:
   * temp file + `link` under blockstore-fs's name, see import/hash.ts), counted exactly: `size`
   * bytes are reserved before `run` starts (`run` gets no target when they do not fit), then
   * committed when `run` created the file and given back otherwise. `stored`: this call stored
   * a new block. `retry`: put the block the usual way now (it was there, or not written, or a
   * delete overlapped and may have taken it).
   */
  putFresh<R extends FreshWriteResult>(size: number, run: (target: FreshTarget | undefined) => Promise<R>, options?: QuotaPutOptions): Promise<{ result: R, stored: boolean, retry: boolean }>
  delete(cid: CID, options?: AbortOptions): Promise<void>
  deleteMany(source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<CID>
  /** Open the child, register with the ledger and reconcile usage (rescan if the last shutdown was not clean). */
  open(options?: AbortOptions): Promise<void>
  /** Wait for writes in flight, record usage as exact and close the child. */
  close(): Promise<void>
}
