/**
 * The receive side's block writes, shared by every stream of one fetch: blocks
 * queue up while earlier batches are written, and each batch goes to the
 * blockstore as one `putMany` (a store that batches its writes, e.g. one
 * directory pass or one fsync per batch, gains from it; one that does not is
 * no slower). The bytes handed in are the frame's own (no copy); `done` is
 * called once the block is stored, so the stream's reader can release them.
 * With a store that tells whether a put stored the block (`putNew`: the
 * workspace's guarded blockstore) no block is checked before its write: the
 * quota store's write is the check (a large block is linked into place, EEXIST
 * when it was there; a small one is checked and written in one step on the fs
 * worker), and a block already stored is counted in the quota once, not twice.
 * Otherwise a block known to be missing (the fetch found it absent) is put
 * without an existence check first and others are checked, so `fetched` says
 * the truth either way.
 */
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** Writing to the local blockstore failed (quota, disk): not the peer's fault, the pin fails. */
export class LocalWriteError extends Error {
  static override name = 'LocalWriteError'
  override name = LocalWriteError.name
}

/**
 * A store whose put says whether it stored the block (false: it was there already). With
 * `returned`, the store may lend the bytes' `ArrayBuffer` to a worker (detached meanwhile) and
 * calls `returned` with the bytes as they came back before the put settles.
 */
export interface PutNew {
  putNew(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal, returned?: (bytes: Uint8Array) => void }): Promise<boolean>
}

export interface BlockWriterInit {
  /**
   * With `putNew`, blocks are written without an existence check first. `copiesBytes`: a
   * resolved put keeps no reference to the bytes (they went to a file), so they may be reused.
   * With `putNew` and `lend` (the bytes given to `write` own their whole `ArrayBuffer`, as a
   * received frame does), the store may write a large block on its fs write worker with the
   * buffer transferred there and back: `done` gets the bytes on the buffer that came back.
   */
  blockstore: Pick<Blockstore, 'has' | 'putMany'> & Partial<PutNew> & { copiesBytes?: boolean }
  /** The bytes handed to `write` are lent (see `blockstore`). @default false */
  lend?: boolean
  /** Batches written at once. @default 32 */
  concurrency?: number
  /** Blocks per batch at most. @default 32 */
  maxBatch?: number
  /**
   * Blocks queued or being written above which `room()` waits: bounds the objects a block's
   * write holds (promises, CIDs, file names) when blocks are small and many fit in the bytes the
   * stream may hold unwritten (a 4 KiB file is a block: 8 MiB of them is 2,000 writes at once,
   * whose objects outlived the young generation and piled up in the old one). @default 512
   */
  maxBlocks?: number
  signal: AbortSignal
}

interface Item {
  cid: CID
  /** the block's bytes (replaced by where they came back to, when lent) */
  bytes: Uint8Array
  knownMissing: boolean
  /**
   * called once stored (`fetched`: this write stored it) or failed (`err`), with the block's
   * bytes: those given to `write`, or where they came back to when they were lent
   */
  done: (fetched: boolean, err: unknown, bytes: Uint8Array) => void
}

export class BlockWriter {
  private readonly init: BlockWriterInit
  private readonly concurrency: number
  private readonly maxBatch: number
  private readonly maxBlocks: number
  private queue: Item[] = []
  private inflight = 0
  /** blocks queued or being written */
  private blocks = 0
  private idle: Array<() => void> = []
  private waiting: Array<() => void> = []
  /** the first write error; every later write fails with it */
  error?: LocalWriteError
  /** A block's bytes may be reused once its write succeeded (the store copied them to a file). */
  readonly bytesReusable: boolean

  constructor (init: BlockWriterInit) {
    this.init = init
    this.concurrency = init.concurrency ?? 32
    this.maxBatch = init.maxBatch ?? 32
    this.maxBlocks = init.maxBlocks ?? 512
    this.bytesReusable = init.blockstore.copiesBytes === true
  }

  /** Resolves once fewer than `maxBlocks` blocks are queued or being written (at once when they are). */
  async room (): Promise<void> {
    if (this.blocks < this.maxBlocks || this.error != null) return
    await new Promise<void>(resolve => { this.waiting.push(resolve) })
  }

  write (cid: CID, bytes: Uint8Array, knownMissing: boolean, done: Item['done']): void {
    if (this.error != null) {
      done(false, this.error, bytes)
      return
    }
    let called = false
    this.blocks++
    const once: Item['done'] = (fetched, err, b) => {
      if (called) return
      called = true
      if (--this.blocks < this.maxBlocks && this.waiting.length > 0) for (const wake of this.waiting.splice(0)) wake()
      done(fetched, err, b)
    }
    this.queue.push({ cid, bytes, knownMissing, done: once })
    this.pump()
  }

  private pump (): void {
    while (this.inflight < this.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch)
      this.inflight++
      void this.writeBatch(batch).finally(() => {
        this.inflight--
        this.pump()
        if (this.inflight === 0 && this.queue.length === 0) for (const wake of this.idle.splice(0)) wake()
      })
    }
  }

  private async writeBatch (batch: Item[]): Promise<void> {
    const signal = this.init.signal
    try {
      if (this.error != null) throw this.error
      const { putNew } = this.init.blockstore
      if (putNew != null) {
        // the write is the check: no has() first (a block stored meanwhile is found by the write)
        // every write of the batch ends before the batch does (a failed one does not leave others running)
        const lend = this.init.lend === true
        const results = await Promise.allSettled(batch.map(async item => {
          const returned = lend ? (b: Uint8Array) => { item.bytes = b } : undefined
          const fetched = await putNew.call(this.init.blockstore, item.cid, item.bytes, { signal, returned })
          item.done(fetched, undefined, item.bytes)
        }))
        for (const r of results) if (r.status === 'rejected') throw r.reason
        return
      }
      // the existence checks of a batch at once (one after the other, each waited for the store)
      const stored = await Promise.all(batch.map(async item => !item.knownMissing && await this.init.blockstore.has(item.cid, { signal })))
      const fresh = batch.filter((_, i) => !stored[i])
      const present = batch.filter((_, i) => stored[i])
      for (const item of present) item.done(false, undefined, item.bytes)
      if (fresh.length === 0) return
      let n = 0
      // putMany yields each CID once stored, in order
      for await (const _ of this.init.blockstore.putMany(fresh.map(i => ({ cid: i.cid, bytes: i.bytes })), { signal })) {
        const item = fresh[n++]
        item?.done(true, undefined, item.bytes)
      }
      for (const item of fresh) item.done(true, undefined, item.bytes)
    } catch (err) {
      this.error ??= err instanceof LocalWriteError ? err : new LocalWriteError('Writing a received block failed', { cause: err })
      for (const item of batch) item.done(false, this.error, item.bytes)
    }
  }

  /** Resolves once every queued block is written (or failed). */
  async drain (): Promise<void> {
    if (this.inflight === 0 && this.queue.length === 0) return
    await new Promise<void>(resolve => { this.idle.push(resolve) })
  }
}
