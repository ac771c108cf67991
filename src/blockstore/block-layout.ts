/**
 * The one owner of the on-disk block layout: blockstore-fs's directory of `<shard>/<key>.data`
 * files. Everything that touches block files goes through here: the path of a block, reading
 * and sizing it, writing it, listing and summing the store, and the temp files of interrupted
 * writes. The FsBlockstore the repo opens is built here too (`createFsBlockstore()`), with the
 * same sharding, so its files and ours are the same files.
 *
 * Writes do less work per block than `FsBlockstore.put`:
 * - shard directories already created are remembered (no `mkdir` per block; if one was
 *   removed behind our back the write recreates it and retries once);
 * - one temp file per write (`.<file>.<unique>.tmp`, removed by the rescan after a crash)
 *   then `rename` over the final name: a reader never sees a partial block, and renaming over
 *   an identical block that already exists is harmless. Blocks over 64 KiB are `link`ed
 *   instead where the file system has hard links (block-write.ts): EEXIST says the block was
 *   there, atomically, because the hash workers write such blocks too, outside any lock of ours
 *   (`freshTarget`, import/hash.ts);
 * - no separate existence checks: the caller decides whether to write (QuotaBlockstore checks
 *   once, under its per-block lock, or lets the link tell);
 * - callback `fs` calls (no FileHandle objects), no fsync (blockstore-fs does not fsync either).
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import { FsBlockstore } from 'blockstore-fs'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { MultihashNextToLast } from './multihash-sharding.js'
import { fsWorker, MAX_WRITE_BYTES } from '../util/fs-worker.js'
import { isLinkUnsupported, linkTemp, renameTemp, writeTempIn } from './block-write.js'
import { scanFsBlockstore } from './scan-fs.js'
import type { ScanFsOptions, ScanResult } from './scan-fs.js'
import type { AbortOptions } from '@libp2p/interface'
import type { ShardingStrategy } from 'blockstore-fs/sharding'

const log = logger('otherthing:blockstore:layout')

export interface BlockLayoutInit {
  /** The blockstore-fs directory. */
  directory: string
  /** @default blockstore-fs's NextToLast (FsBlockstore's default) */
  sharding?: ShardingStrategy
}

export interface BlockLayout {
  readonly directory: string
  readonly sharding: ShardingStrategy
  /** Path of the file holding `cid`. */
  pathOf(cid: CID): string
  /** Whether the block's file exists; rejects when that cannot be told (e.g. EMFILE, EACCES). */
  exists(cid: CID): Promise<boolean>
  /**
   * The block's bytes, or undefined when it is not stored. With `expectedSize` (the size the
   * block should have, e.g. a leaf's Tsize) the file is read with one `read` into a buffer of
   * that size plus one byte, without `fstat`; a larger file is then read whole as usual.
   */
  read(cid: CID, options?: AbortOptions & { expectedSize?: number }): Promise<Uint8Array | undefined>
  /**
   * As `read`, through the fs read worker (util/fs-worker.ts) when one runs: the reads of one
   * turn of the event loop go to the worker in one message and run there as synchronous calls
   * (open, one read, close; no `fstat` with `expectedSize`). For the many small blocks of a
   * folder or a transfer this costs one round trip per batch instead of three per block. A block
   * larger than the worker takes (or than `expectedSize`) is read by `read`.
   */
  readBatched(cid: CID, options?: AbortOptions & { expectedSize?: number }): Promise<Uint8Array | undefined>
  /** Size of the stored block, or undefined when it is not stored. */
  sizeOf(cid: CID): Promise<number | undefined>
  /** Write the block atomically (temp file + rename). Throws the fs error; leaves no temp file behind. */
  write(cid: CID, bytes: Uint8Array, signal?: AbortSignal): Promise<void>
  /**
   * Write the block as `write` does unless it is stored already; resolves whether it was.
   * Small blocks go to the fs worker in batches (util/fs-worker.ts): one check and one write,
   * without a trip through the main thread for each fs call.
   */
  writeIfAbsent(cid: CID, bytes: Uint8Array, signal?: AbortSignal): Promise<{ existed: boolean }>
  /**
   * As `writeIfAbsent`, for a block whose `ArrayBuffer` the caller lends: a large block (over
   * MAX_WRITE_BYTES, where hard links work) is written and linked into place on the fs write
   * worker with its buffer transferred there and back, no copy and no fs call on this thread
   * (`bytes` is detached meanwhile; `returned` gets the bytes on the buffer that came back,
   * before this settles, whatever the outcome). Other blocks are written as `writeIfAbsent`
   * does, and `returned` is not called (`bytes` stays valid).
   */
  writeLent(cid: CID, bytes: Uint8Array, returned: (bytes: Uint8Array) => void, signal?: AbortSignal): Promise<{ existed: boolean }>
  /**
   * Write a block a check just found missing (the caller holds the block's lock). A large block
   * (over MAX_WRITE_BYTES) is linked into place, which also tells atomically whether a write
   * outside the lock (a hash worker's, see `freshTarget`) stored it meanwhile; a small one is
   * renamed into place as `write` does (nobody writes those outside the lock). Resolves whether
   * it was found stored.
   */
  writeMissing(cid: CID, bytes: Uint8Array, signal?: AbortSignal): Promise<{ existed: boolean }>
  /**
   * Where a hash worker may write large blocks itself (import/hash.ts: blockstore-fs's NextToLast
   * names, temp file + `link`, EEXIST when stored), or undefined when this layout cannot take such
   * writes (another sharding, or a file system without hard links).
   */
  freshTarget(): { directory: string } | undefined
  /** The file system refused a hard link (`code`): large writes are renamed from now on, no fresh target. */
  noteLinkError(code: string | undefined): void
  /** Remove what an interrupted `FsBlockstore.put` of `cid` left (`.<file>.tmp`). */
  removePartial(cid: CID): Promise<void>
  /** Sum and count the block files (`stat`, never read). */
  scan(options?: Omit<ScanFsOptions, 'extension'>): Promise<ScanResult>
  /** Count the block files (`readdir` only, no `stat`). */
  count(options?: AbortOptions): Promise<number>
  /** Forget the shard directories known to exist (e.g. after the store was wiped). */
  reset(): void
  /** A blockstore-fs over this directory with this sharding. */
  createFsBlockstore(): FsBlockstore
}

let tempCounter = 0

/** Largest `expectedSize` read in one go (a leaf is at most a few MiB). */
const MAX_SIZED_READ = 4 * 1024 * 1024
const TOO_LARGE = Symbol('too large')
/** Largest block `readBatched` reads through the worker. */
const MAX_BATCHED_READ = MAX_WRITE_BYTES

function call<T> (fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((err, value) => { if (err != null) reject(err); else resolve(value) })
  })
}

/** Whether `sharding` names files as a hash worker does (blockstore-fs's default NextToLast: `<last 2>/<base32upper mh>.data`). */
function namesLikeNextToLast (sharding: ShardingStrategy): boolean {
  const mh = Digest.create(0x12, createHash('sha256').update('probe').digest())
  const name = base32upper.encode(mh.bytes)
  const { dir, file } = sharding.encode(CID.createV0(mh))
  return dir === name.slice(-2) && file === `${name}.data`
}

function isMissing (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

class DefaultBlockLayout implements BlockLayout {
  readonly directory: string
  readonly sharding: ShardingStrategy
  private readonly dirs = new Set<string>()
  /** false once the file system refused a hard link */
  private links = true
  private readonly defaultSharding: boolean

  constructor (init: BlockLayoutInit) {
    this.directory = path.resolve(init.directory)
    // blockstore-fs's layout; file names of any hash decode (see multihash-sharding.ts)
    this.sharding = init.sharding ?? new MultihashNextToLast()
    this.defaultSharding = namesLikeNextToLast(this.sharding)
  }

  pathOf (cid: CID): string {
    const { dir, file } = this.sharding.encode(cid)
    return path.join(this.directory, dir, file)
  }

  async exists (cid: CID): Promise<boolean> {
    const file = this.pathOf(cid)
    return new Promise((resolve, reject) => {
      fs.access(file, (err) => {
        if (err == null) resolve(true)
        else if (isMissing(err)) resolve(false)
        else reject(err)
      })
    })
  }

  async read (cid: CID, options?: AbortOptions & { expectedSize?: number }): Promise<Uint8Array | undefined> {
    const expected = options?.expectedSize
    if (expected != null && Number.isSafeInteger(expected) && expected >= 0 && expected <= MAX_SIZED_READ) {
      const bytes = await this.readSized(cid, expected, options?.signal)
      if (bytes !== TOO_LARGE) return bytes
    }
    try {
      return await fsp.readFile(this.pathOf(cid), { signal: options?.signal })
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  /** One open, one read of `expected + 1` bytes, one close (a short read of a regular file is its end). */
  private async readSized (cid: CID, expected: number, signal?: AbortSignal): Promise<Uint8Array | undefined | typeof TOO_LARGE> {
    signal?.throwIfAborted()
    let fd: number
    try {
      fd = await call<number>(cb => { fs.open(this.pathOf(cid), 'r', cb) })
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
    try {
      const buf = Buffer.allocUnsafeSlow(expected + 1)
      const n = await call<number>(cb => { fs.read(fd, buf, 0, buf.byteLength, 0, cb) })
      if (n > expected) return TOO_LARGE
      // much smaller than announced (a parent, a wrong Tsize): do not keep the big buffer alive
      return n < buf.byteLength / 2 ? Uint8Array.prototype.slice.call(buf, 0, n) : buf.subarray(0, n)
    } finally {
      await call<void>(cb => { fs.close(fd, (err) => { cb(err, undefined) }) })
    }
  }

  async readBatched (cid: CID, options?: AbortOptions & { expectedSize?: number }): Promise<Uint8Array | undefined> {
    options?.signal?.throwIfAborted()
    const worker = fsWorker('read')
    if (worker == null) return this.read(cid, options)
    const file = this.pathOf(cid)
    const expected = options?.expectedSize
    if (expected != null && Number.isSafeInteger(expected) && expected >= 0) {
      // large blocks: libuv's pool reads them in place on four threads (and no worker heap holds them)
      if (expected > MAX_BATCHED_READ) return this.read(cid, options)
      const r = await worker.readSized(file, expected)
      if (r == null || r instanceof Uint8Array) return r
      // larger than announced: read whole below
    } else {
      try {
        const r = await worker.readSmall(file, MAX_BATCHED_READ)
        if (r.bytes != null) return r.bytes
      } catch (err) {
        if (isMissing(err)) return undefined
        throw err
      }
    }
    return this.read(cid, { signal: options?.signal })
  }

  async sizeOf (cid: CID): Promise<number | undefined> {
    try {
      return (await fsp.stat(this.pathOf(cid))).size
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  reset (): void {
    this.dirs.clear()
  }

  async write (cid: CID, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    const { dir, file } = this.sharding.encode(cid)
    const shard = path.join(this.directory, dir)
    const temp = path.join(shard, `.${file}.${process.pid}-${++tempCounter}.tmp`)
    await writeTempIn(this.dirs, shard, temp, bytes, signal)
    await renameTemp(temp, path.join(shard, file))
  }

  freshTarget (): { directory: string } | undefined {
    return this.links && this.defaultSharding ? { directory: this.directory } : undefined
  }

  noteLinkError (code: string | undefined): void {
    if (!isLinkUnsupported(code) || !this.links) return
    this.links = false
    log('no hard links in %s (%s): blocks are renamed into place', this.directory, code)
  }

  async writeMissing (cid: CID, bytes: Uint8Array, signal?: AbortSignal): Promise<{ existed: boolean }> {
    if (bytes.byteLength <= MAX_WRITE_BYTES || !this.links) {
      await this.write(cid, bytes, signal)
      return { existed: false }
    }
    const created = await this.writeLinked(cid, bytes, signal)
    if (created != null) return { existed: !created }
    // no hard links here: nobody writes outside the lock any more (freshTarget is gone)
    await this.write(cid, bytes, signal)
    return { existed: false }
  }

  /** Temp file + link: whether this call created the block; undefined when links are not supported here. */
  private async writeLinked (cid: CID, bytes: Uint8Array, signal?: AbortSignal): Promise<boolean | undefined> {
    signal?.throwIfAborted()
    const { dir, file } = this.sharding.encode(cid)
    const shard = path.join(this.directory, dir)
    const temp = path.join(shard, `.${file}.${process.pid}-${++tempCounter}.tmp`)
    await writeTempIn(this.dirs, shard, temp, bytes, signal)
    try {
      return await linkTemp(temp, path.join(shard, file))
    } catch (err: any) {
      if (!isLinkUnsupported(err.code)) throw err
      this.noteLinkError(err.code)
      return undefined
    }
  }

  async writeIfAbsent (cid: CID, bytes: Uint8Array, signal?: AbortSignal): Promise<{ existed: boolean }> {
    signal?.throwIfAborted()
    const worker = bytes.byteLength <= MAX_WRITE_BYTES ? fsWorker('write') : undefined
    if (worker == null) {
      // a large block: the link tells whether it was there, no separate check
      const created = this.links ? await this.writeLinked(cid, bytes, signal) : undefined
      if (created != null) return { existed: !created }
      if (await this.exists(cid)) return { existed: true }
      await this.write(cid, bytes, signal)
      return { existed: false }
    }
    const { dir, file } = this.sharding.encode(cid)
    const shard = path.join(this.directory, dir)
    const result = await worker.writeIfAbsent(path.join(shard, file), path.join(shard, `.${file}.${process.pid}-${++tempCounter}.tmp`), shard, bytes)
    this.dirs.add(shard)
    return result
  }

  async writeLent (cid: CID, bytes: Uint8Array, returned: (bytes: Uint8Array) => void, signal?: AbortSignal): Promise<{ existed: boolean }> {
    signal?.throwIfAborted()
    const worker = bytes.byteLength > MAX_WRITE_BYTES && this.links ? fsWorker('write') : undefined
    if (worker == null) return this.writeIfAbsent(cid, bytes, signal)
    const { dir, file } = this.sharding.encode(cid)
    const shard = path.join(this.directory, dir)
    let back = bytes
    try {
      const result = await worker.linkLent(path.join(shard, file), path.join(shard, `.${file}.${process.pid}-${++tempCounter}.tmp`), shard, bytes, (b) => {
        back = b
        returned(b)
      })
      this.dirs.add(shard)
      return result
    } catch (err: any) {
      if (!isLinkUnsupported(err.code) || back === bytes) throw err
      // no hard links here after all: renamed into place from now on
      this.noteLinkError(err.code)
      return this.writeIfAbsent(cid, back, signal)
    }
  }

  async removePartial (cid: CID): Promise<void> {
    const { dir, file } = this.sharding.encode(cid)
    const temp = path.join(this.directory, dir, `.${file}.tmp`)
    await fsp.rm(temp, { force: true }).catch((err) => {
      log.error('could not remove partial block %s (the next rescan does): %e', temp, err)
    })
  }

  async scan (options: Omit<ScanFsOptions, 'extension'> = {}): Promise<ScanResult> {
    return scanFsBlockstore(this.directory, { ...options, extension: this.sharding.extension })
  }

  async count (options: AbortOptions = {}): Promise<number> {
    let n = 0
    const dirs = [this.directory]
    while (dirs.length > 0) {
      options.signal?.throwIfAborted()
      const d = dirs.pop() as string
      let entries
      try {
        entries = await fsp.readdir(d, { withFileTypes: true })
      } catch (err) {
        if (isMissing(err)) continue
        throw err
      }
      for (const e of entries) {
        if (e.isDirectory()) dirs.push(path.join(d, e.name))
        else if (e.name.endsWith(this.sharding.extension) && !e.name.startsWith('.')) n++
      }
    }
    return n
  }

  createFsBlockstore (): FsBlockstore {
    return new FsBlockstore(this.directory, { shardingStrategy: this.sharding })
  }
}

export function createBlockLayout (init: BlockLayoutInit): BlockLayout {
  return new DefaultBlockLayout(init)
}
