/**
 * The leaves of a file read, checked and written (or handed over) on worker threads, in
 * batches, with synchronous fs calls.
 *
 * A `get` of a 256 MiB file is 1,024 leaf block files: read through libuv's pool (three calls
 * each) and written back through the same four threads, the main thread sat idle half the
 * time, at 0.11x of `cp`, while a synchronous loop of the same reads and writes runs at 0.78x.
 * Here each worker takes a batch of leaves (their files, expected sizes and output offsets,
 * computed by the main thread from the parent nodes) and, for each leaf, in turn: opens the
 * file, reads it with one `read` into a reused buffer, closes it, **hashes it** (`node:crypto`
 * SHA-256: a block file on disk can be damaged, and a CID says what the bytes must be), finds
 * the file bytes (a raw leaf is its bytes; a dag-pb leaf's are its UnixFS `Data`, found by a
 * small protobuf scan) and writes them at their offset (`write` mode, positioned writes into
 * the caller's open file) or leaves them in one buffer per batch that is transferred to the
 * main thread (`read` mode, for `cat`; the blocks are read back to back into it and the main
 * thread takes the data slices: no copy).
 *
 * A leaf the worker cannot take (file missing or unreadable, a hash other than SHA-256, larger
 * than announced, not a plain leaf, a hash mismatch) ends the batch: the result says how many
 * were done and the main thread reads that leaf through its usual reader (which asks peers for
 * a missing block, and raises `CorruptBlockError` for a damaged one), then sends the rest.
 *
 * The batches run on the process's I/O threads (util/io-threads.ts), shared with the fs worker:
 * two at most (hashing is about 1.5 GiB/s a core here, half of `cp`'s speed: one thread alone
 * could not reach 0.5x `cp`), each batch on the least busy; started on the first file (or the
 * first small read), stopped after 10 s without work.
 */
import { leastBusyIoThread, runningIoThreads, setIoThreadIdleTime, startIoThreads } from '../../util/io-threads.js'
import type { IoOps } from '../../util/io-threads.js'

/** The leaves of one batch, run on an I/O thread (util/io-threads.ts): CommonJS, `require` and `ops` in scope. */
const LEAF_OPS: IoOps = {
  name: 'leaves',
  source: `
const fs = require('node:fs')
const { createHash } = require('node:crypto')
let scratch = Buffer.allocUnsafeSlow(256 * 1024 + 64)
let at = 0
function uv (b, end) {
  let v = 0, mul = 1
  while (at < end) {
    const c = b[at++]
    v += (c & 0x7f) * mul
    if (c < 0x80) return v
    mul *= 128
    if (mul > 2 ** 49) return -1
  }
  return -1
}
function skip (b, wt, end) {
  if (wt === 0) return uv(b, end) >= 0
  if (wt === 2) { const l = uv(b, end); if (l < 0 || at + l > end) return false; at += l; return true }
  if (wt === 1) { at += 8; return at <= end }
  if (wt === 5) { at += 4; return at <= end }
  return false
}
let ds = 0, de = 0
// the file bytes of a dag-pb leaf (no links, UnixFS type raw or file, no block sizes) in [ds, de)
function pbLeaf (b, from, to) {
  at = from
  let d0 = -1, d1 = -1
  while (at < to) {
    const key = uv(b, to)
    if (key < 0 || (key & 7) !== 2) return false
    const len = uv(b, to)
    if (len < 0 || at + len > to) return false
    // a link (field 2) or anything but one Data field: not a plain leaf
    if (key >>> 3 !== 1 || d0 >= 0) return false
    d0 = at; d1 = at + len; at += len
  }
  if (d0 < 0) return false
  at = d0
  let type = -1
  ds = d1; de = d1
  while (at < d1) {
    const key = uv(b, d1)
    if (key < 0) return false
    const f = Math.floor(key / 8), wt = key & 7
    if (f === 1 && wt === 0) { type = uv(b, d1); if (type < 0) return false }
    else if (f === 2 && wt === 2) { const l = uv(b, d1); if (l < 0 || at + l > d1) return false; ds = at; de = at + l; at += l }
    else if (f === 4) return false
    else if (!skip(b, wt, d1)) return false
  }
  return type === 0 || type === 2
}
// reads leaf l into buf at off (at most l.block + 1 bytes): the bytes read, or -1 when it cannot be read
function readInto (l, buf, off) {
  let fd
  try {
    fd = fs.openSync(l.file, 'r')
    return fs.readSync(fd, buf, off, l.block + 1, 0)
  } catch (e) {
    return -1
  } finally {
    if (fd != null) try { fs.closeSync(fd) } catch {}
  }
}
// checks the leaf's bytes buf[off, off + n) and sets [ds, de) to its file bytes; or gives why not
function check (l, buf, off, n) {
  if (n < 0) return 'unreadable'
  if (n > l.block) return 'larger than announced'
  if (l.digest != null) {
    const digest = createHash('sha256').update(buf.subarray(off, off + n)).digest()
    if (Buffer.compare(digest, l.digest) !== 0) return 'hash mismatch'
  }
  if (l.pb) {
    if (!pbLeaf(buf, off, off + n)) return 'not a plain leaf'
  } else {
    ds = off; de = off + n
  }
  if (de - ds !== l.size) return 'size mismatch'
  return undefined
}
function writeAll (fd, buf, from, to, pos) {
  while (from < to) {
    const w = fs.writeSync(fd, buf, from, to - from, pos)
    from += w; pos += w
  }
}
function writeLeaves (m) {
  let done = 0
  for (const l of m.leaves) {
    if (scratch.length < l.block + 1) scratch = Buffer.allocUnsafeSlow(l.block + 1)
    const why = check(l, scratch, 0, readInto(l, scratch, 0))
    if (why != null) return { done, why }
    try {
      writeAll(m.fd, scratch, ds + l.skip, ds + l.skip + l.take, l.pos)
    } catch (e) {
      return { done, error: e.code, message: e.message }
    }
    done++
  }
  return { done }
}
function readLeaves (m) {
  // the main thread's buffer (sum of the blocks + 1 byte), filled and given back
  const out = Buffer.from(m.out)
  const slices = []
  let off = 0
  for (const l of m.leaves) {
    const why = check(l, out, off, readInto(l, out, off))
    if (why != null) return { done: slices.length / 2, why, out: out.buffer, slices }
    slices.push(ds + l.skip, ds + l.skip + l.take)
    off += l.block
  }
  return { done: slices.length / 2, out: out.buffer, slices }
}
ops.leaves = (m) => {
  const r = m.fd != null ? writeLeaves(m) : readLeaves(m)
  return [r, r.out != null ? [r.out] : []]
}
`
}

/** One leaf for a worker: where its block file is, what it must hash to, which of its bytes go where. */
export interface LeafJob {
  /** The block file. */
  file: string
  /** SHA-256 digest the file's bytes must have; none: not hashed (the node's `hashOnRead: false`). */
  digest?: Uint8Array
  /** dag-pb leaf (its file bytes are its UnixFS Data) or raw leaf (its bytes). */
  pb: boolean
  /** The block's size at most (a raw leaf's size, a dag-pb leaf's Tsize). */
  block: number
  /** File bytes in the leaf. */
  size: number
  /** File bytes of the leaf skipped before the range. */
  skip: number
  /** File bytes of the leaf taken. */
  take: number
  /** Where they go in the output file (`write` mode). */
  pos: number
}

export interface LeafResult {
  /** Leaves done, in order (the rest were not touched). */
  done: number
  /** Why the next leaf was not done (it is to be read the usual way). */
  why?: string
  /** `read` mode: the bytes of the blocks read, and the [start, end) of each leaf's file bytes in it. */
  out?: ArrayBuffer
  slices?: number[]
  /** A write failed (the fs error's code and message). */
  error?: string
  message?: string
}

export interface LeafWorkers {
  /** Reads, checks and writes the leaves at their `pos` into the open file `fd`. */
  write(fd: number, leaves: LeafJob[]): Promise<LeafResult>
  /** Reads and checks the leaves into one buffer (made here, transferred there and back). */
  read(leaves: LeafJob[]): Promise<LeafResult>
}

async function run (leaves: LeafJob[], fd?: number, out?: ArrayBuffer): Promise<LeafResult> {
  const thread = leastBusyIoThread()
  if (thread == null) throw new Error('no I/O thread can start')
  return thread.run<LeafResult>(LEAF_OPS, { fd, leaves, out }, out != null ? [out] : [])
}

const workers: LeafWorkers = {
  async write (fd, leaves) { return run(leaves, fd) },
  async read (leaves) {
    // allocated here, not in the worker: a 1 GiB cat peaked at 207 MiB of RSS with buffers
    // allocated by the worker (another malloc arena) and freed here
    let total = 1
    for (const l of leaves) total += l.block
    // not zero-filled (every byte handed on is read from a file); its own ArrayBuffer, transferable
    return run(leaves, undefined, Buffer.allocUnsafeSlow(total).buffer)
  }
}

/** I/O threads running now, which run the leaves (diagnostics and tests). */
export function runningLeafWorkers (): number {
  return runningIoThreads()
}

/** How long an idle I/O thread is kept (default 10 s; tests shorten it). */
export function setLeafWorkerIdleTime (ms: number): void {
  setIoThreadIdleTime(ms)
}

/**
 * The leaf workers, or undefined when no I/O thread can start (the caller reads leaves itself).
 * Every I/O thread is started now (an idle node starts none): the leaves of a file follow within
 * milliseconds, and two threads booting at once are ready ~40 ms sooner than the second one
 * started when the first has a batch.
 */
export function leafWorkers (): LeafWorkers | undefined {
  startIoThreads()
  return leastBusyIoThread() == null ? undefined : workers
}
