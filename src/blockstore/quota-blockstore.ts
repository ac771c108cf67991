import path from 'node:path'
import { logger } from '@libp2p/logger'
import { FsBlockstore } from 'blockstore-fs'
import { PutFailedError } from 'interface-store'
import { InvalidArgumentError, NotStartedError } from '../errors.js'
import { createAbsentHints } from './absent-hints.js'
import { createBlockLayout } from './block-layout.js'
import { createKeyLock } from '../util/key-lock.js'
import { mhKey } from './mh-key.js'
import { DefaultQuotaLedger } from './ledger.js'
import { orderedParallel } from './ordered-parallel.js'
import { hasOrFalse, sizeByReading } from './probe.js'
import { scanBlockstore } from './scan.js'
import type { BlockLayout } from './block-layout.js'
import type { DiskGuard } from './disk-space.js'
import type { Reservation, StoreEntry } from './ledger.js'
import { MAX_WRITE_BYTES } from '../util/fs-worker.js'
import type { AbortOptions, FreshTarget, FreshWriteResult, QuotaBlockstore, QuotaBlockstoreInit, QuotaPutOptions } from './types.js'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing:blockstore:quota')

class DefaultQuotaBlockstore implements QuotaBlockstore {
  readonly name: string
  readonly reportsStored = true
  readonly copiesBytes: boolean
  private readonly child: Blockstore
  private readonly ledger: DefaultQuotaLedger
  /** the child's directory layout (sizes, scans, partial files); the direct writer when it is the FsBlockstore's own */
  private readonly layout?: BlockLayout
  private readonly rescanOnOpen: boolean
  private readonly putManyConcurrency: number
  private readonly deleteManyConcurrency: number
  /** writes whole blocks straight into the child's directory (child is an FsBlockstore) */
  private readonly writer?: BlockLayout
  private readonly locks = createKeyLock()
  /** blocks a recent has() found missing: the put that follows skips its own check */
  private readonly hints = createAbsentHints()
  /** operations in flight, counted (a Set of their promises churned per block), and who waits for none */
  private busy = 0
  private idle: Array<() => void> = []
  private entry?: StoreEntry
  private guard?: DiskGuard
  private dirtyDone = false
  /** deletes begun so far: a fresh write that overlapped one is checked again (see putFresh) */
  private deletes = 0
  private dirtying?: Promise<void>

  constructor (init: QuotaBlockstoreInit) {
    if (!(init.ledger instanceof DefaultQuotaLedger)) {
      throw new InvalidArgumentError('ledger must come from createQuotaLedger()')
    }
    if (typeof init.name !== 'string' || init.name.length === 0) {
      throw new InvalidArgumentError('name must be a non-empty string')
    }
    const fsChild = init.child instanceof FsBlockstore ? init.child : undefined
    this.name = init.name
    this.child = init.child
    this.copiesBytes = fsChild != null
    this.ledger = init.ledger
    const directory = init.directory ?? init.layout?.directory ?? fsChild?.path
    this.layout = init.layout ?? (directory != null ? createBlockLayout({ directory, sharding: init.shardingStrategy }) : undefined)
    this.rescanOnOpen = init.rescanOnOpen ?? false
    this.putManyConcurrency = init.putManyConcurrency ?? 50
    this.deleteManyConcurrency = init.deleteManyConcurrency ?? 50
    if (fsChild != null && this.layout != null && this.layout.directory === path.resolve(fsChild.path)) {
      this.writer = this.layout
    }
  }

  get used (): number {
    return this.entry?.used ?? this.ledger.usage().stores[this.name] ?? 0
  }

  async open (options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.entry != null) return
    await (this.child as Partial<{ open(): Promise<void> }>).open?.()
    await this.ledger.open()
    const entry = this.ledger.attach(this.name)
    try {
      if (this.layout != null) {
        this.guard = await this.ledger.diskGuard(this.layout.directory)
      }
      if (!entry.clean || this.rescanOnOpen) {
        const scan = this.layout != null
          ? await this.layout.scan({ removeTempFiles: true, signal: options.signal })
          : await scanBlockstore(this.child, options)
        await this.ledger.setStoreUsage(entry, scan.bytes)
      }
    } catch (err) {
      this.ledger.detach(entry)
      throw err
    }
    this.entry = entry
    this.hints.clear()
    this.dirtyDone = false
    this.dirtying = undefined
  }

  async close (): Promise<void> {
    const entry = this.entry
    if (entry == null) return
    while (this.busy > 0) await new Promise<void>(resolve => { this.idle.push(resolve) })
    this.entry = undefined
    try {
      await this.ledger.markClean(entry)
    } finally {
      this.ledger.detach(entry)
      await (this.child as Partial<{ close(): Promise<void> }>).close?.()
    }
  }

  private opened (): StoreEntry {
    if (this.entry == null) throw new NotStartedError(`Quota blockstore ${this.name} is not open`)
    return this.entry
  }

  private async track<T>(p: Promise<T>): Promise<T> {
    this.busy++
    try {
      return await p
    } finally {
      if (--this.busy === 0) for (const resolve of this.idle.splice(0)) resolve()
    }
  }

  /** Before the first change after open, record durably that the ledger's number is no longer exact. */
  private async ensureDirty (entry: StoreEntry): Promise<void> {
    if (this.dirtyDone) return
    this.dirtying ??= this.ledger.markDirty(entry).then(() => { this.dirtyDone = true }, (err) => {
      this.dirtying = undefined
      throw err
    })
    await this.dirtying
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    if (this.writer == null) return this.child.has(cid, options)
    options?.signal?.throwIfAborted()
    const key = mhKey(cid)
    this.hints.begin(key)
    let exists: boolean | undefined
    try {
      exists = await this.writer.exists(cid)
    } catch (err) {
      // like FsBlockstore.has: an unreadable block counts as missing (but leaves no hint)
      log('has %c: cannot tell, counted as missing: %e', cid, err)
    } finally {
      this.hints.end(key, exists ?? true)
    }
    return exists ?? false
  }

  async put (cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: QuotaPutOptions): Promise<CID> {
    options?.signal?.throwIfAborted()
    const entry = this.opened()
    const key = mhKey(cid)
    return this.track(this.locks.run(key, async () => {
      try {
        return await this.putLocked(entry, key, cid, bytes, options)
      } finally {
        // whatever happened, the block may be stored now: no has() result from before may be used
        this.hints.written(key)
      }
    }))
  }

  private async putLocked (entry: StoreEntry, key: string, cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: QuotaPutOptions): Promise<CID> {
    if (this.writer != null && bytes instanceof Uint8Array) return this.putDirect(entry, this.writer, key, cid, bytes, options)
    // a block already stored costs nothing (also makes concurrent puts of one block count once)
    if (await this.child.has(cid, options)) return cid
    options?.signal?.throwIfAborted()
    await this.ensureDirty(entry)
    const reservation = this.ledger.reservation(entry, this.guard)
    let input: Uint8Array | AsyncIterable<Uint8Array>
    if (bytes instanceof Uint8Array) {
      await this.guard?.refresh()
      reservation.add(bytes.byteLength)
      input = bytes
    } else {
      input = this.counted(bytes, reservation)
    }
    try {
      await this.child.put(cid, input, options)
    } catch (err) {
      if (reservation.error == null && await hasOrFalse(this.child, cid)) {
        // the block made it to disk despite the error (e.g. an abort that lost the race)
        reservation.commit()
        options?.onStored?.()
      } else {
        reservation.release()
        // what the refused or failed streaming write left behind (blockstore-fs writes `.<file>.tmp` then renames)
        await this.layout?.removePartial(cid)
      }
      throw reservation.error ?? err
    }
    reservation.commit()
    options?.onStored?.()
    return cid
  }

  /**
   * A whole block into an FsBlockstore directory, under the block's lock (concurrent puts of one
   * block count once): at most one existence check (none when a has() just found it missing),
   * reserve, temp file + rename, commit.
   */
  private async putDirect (entry: StoreEntry, writer: BlockLayout, key: string, cid: CID, bytes: Uint8Array, options?: QuotaPutOptions): Promise<CID> {
    // a has() just found it missing and nothing wrote it since (Helia asks has() before every put)
    if (!this.hints.consume(key)) return this.putChecked(entry, writer, cid, bytes, options)
    options?.signal?.throwIfAborted()
    await this.ensureDirty(entry)
    await this.guard?.refresh()
    const reservation = this.ledger.reservation(entry, this.guard)
    reservation.add(bytes.byteLength)
    let existed: boolean
    try {
      // a large block may have been linked in by a fresh write meanwhile: writeMissing tells
      ({ existed } = await writer.writeMissing(cid, bytes, options?.signal))
    } catch (err: any) {
      reservation.release()
      if (options?.signal?.aborted === true) throw options.signal.reason ?? err
      throw new PutFailedError(String(err))
    }
    if (existed) {
      reservation.release()
      return cid
    }
    reservation.commit()
    options?.onStored?.()
    return cid
  }

  freshTarget (size: number): FreshTarget | undefined {
    if (this.entry == null || size <= MAX_WRITE_BYTES) return undefined
    return this.writer?.freshTarget()
  }

  async putFresh<R extends FreshWriteResult> (size: number, run: (target: FreshTarget | undefined) => Promise<R>, options?: QuotaPutOptions): Promise<{ result: R, stored: boolean, retry: boolean }> {
    options?.signal?.throwIfAborted()
    const entry = this.opened()
    const target = this.freshTarget(size)
    if (target == null) return { result: await run(undefined), stored: false, retry: true }
    await this.ensureDirty(entry)
    await this.guard?.refresh()
    const reservation = this.ledger.reservation(entry, this.guard)
    let fits = true
    try {
      reservation.add(size)
    } catch {
      // the caller's put reports it (or frees space and retries): near the limit a stored block still fits
      fits = false
    }
    const deletes = this.deletes
    let result: R
    try {
      result = await this.track(run(fits ? target : undefined))
    } catch (err) {
      reservation.release()
      throw err
    }
    const write = result.write
    if (write?.created === true) {
      reservation.commit()
      this.hints.written(mhKey(result.cid))
      options?.onStored?.()
    } else {
      reservation.release()
      if (write?.error != null) {
        this.writer?.noteLinkError(write.error)
        log('fresh write of %c failed (%s), written the usual way: %s', result.cid, write.error, write.message)
      }
    }
    // a delete ran meanwhile (gc, a rollback): it may have taken this block before its writer
    // could mark it as in use; the caller's put checks again under the block's lock
    return { result, stored: write?.created === true, retry: write?.created !== true || this.deletes !== deletes }
  }

  /**
   * A whole block not known to be missing: the existence check and the write in one step
   * (`writeIfAbsent`, batched on the fs worker for small blocks). The bytes are reserved first and
   * given back when the block was there; near the quota, a block already stored is found by a
   * check before the reservation is refused.
   */
  private async putChecked (entry: StoreEntry, writer: BlockLayout, cid: CID, bytes: Uint8Array, options?: QuotaPutOptions): Promise<CID> {
    options?.signal?.throwIfAborted()
    await this.ensureDirty(entry)
    await this.guard?.refresh()
    const reservation = this.ledger.reservation(entry, this.guard)
    try {
      reservation.add(bytes.byteLength)
    } catch (err) {
      let exists: boolean
      try {
        exists = await writer.exists(cid)
      } catch (existsErr) {
        throw new PutFailedError(String(existsErr))
      }
      if (exists) return cid
      throw err
    }
    let existed: boolean
    try {
      // a lent buffer goes to the fs write worker and back (a received large block, no copy)
      const returned = options?.returned
      const write = returned != null ? writer.writeLent(cid, bytes, returned, options?.signal) : writer.writeIfAbsent(cid, bytes, options?.signal)
      existed = (await write).existed
    } catch (err: any) {
      reservation.release()
      if (options?.signal?.aborted === true) throw options.signal.reason ?? err
      throw new PutFailedError(String(err))
    }
    if (existed) {
      reservation.release()
      return cid
    }
    reservation.commit()
    options?.onStored?.()
    return cid
  }

  /** Pass chunks through, reserving each before it is written; throws as soon as one does not fit. */
  private async * counted (source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, reservation: Reservation): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      await this.guard?.refresh()
      reservation.add(chunk.byteLength)
      yield chunk
    }
  }

  /** Size of a stored block, or undefined if it is not stored. */
  private async sizeOf (cid: CID, options?: AbortOptions): Promise<number | undefined> {
    return this.layout != null ? this.layout.sizeOf(cid) : sizeByReading(this.child, cid, options)
  }

  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    options?.signal?.throwIfAborted()
    this.opened()
    yield * orderedParallel(source, async ({ cid, bytes }) => this.put(cid, bytes, options), this.putManyConcurrency)
  }

  get (cid: CID, options?: AbortOptions): Generator<Uint8Array> | AsyncGenerator<Uint8Array> {
    return this.child.get(cid, options)
  }

  getMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): Generator<Pair> | AsyncGenerator<Pair> {
    return this.child.getMany(source, options)
  }

  getAll (options?: AbortOptions): Generator<Pair> | AsyncGenerator<Pair> {
    return this.child.getAll(options)
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const entry = this.opened()
    await this.track(this.locks.run(mhKey(cid), async () => this.deleteLocked(entry, cid, options)))
  }

  private async deleteLocked (entry: StoreEntry, cid: CID, options?: AbortOptions): Promise<void> {
    this.deletes++
    const size = await this.sizeOf(cid, options)
    if (size == null) {
      await this.child.delete(cid, options)
      return
    }
    await this.ensureDirty(entry)
    try {
      await this.child.delete(cid, options)
    } catch (err) {
      if (!(await hasOrFalse(this.child, cid))) this.ledger.freed(entry, size, this.guard)
      throw err
    }
    this.ledger.freed(entry, size, this.guard)
  }

  async * deleteMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<CID> {
    options?.signal?.throwIfAborted()
    this.opened()
    yield * orderedParallel(source, async (cid) => {
      await this.delete(cid, options)
      return cid
    }, this.deleteManyConcurrency)
  }
}

/**
 * Wrap a blockstore so that its writes count against a shared quota ledger.
 *
 * @example
 * ```ts
 * const ledger = createQuotaLedger({ limitBytes: 10 * 1024 ** 3, statePath: '/data/ipfs/quota-ledger.json' })
 * const blockstore = createQuotaBlockstore({ child: new FsBlockstore(dir), ledger, name: 'ws-1', directory: dir })
 * await blockstore.open()
 * ```
 */
export function createQuotaBlockstore (init: QuotaBlockstoreInit): QuotaBlockstore {
  return new DefaultQuotaBlockstore(init)
}
