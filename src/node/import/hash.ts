/**
 * SHA-256 CIDs of blocks. Large blocks are hashed in a small pool of worker
 * threads (native OpenSSL via node:crypto, SHA extensions where the CPU has
 * them) so the main thread keeps reading, encoding and writing. A block we
 * encoded is transferred to the worker and back, not copied; the caller's
 * bytes (raw leaves) are copied, never detached. Small blocks, and
 * any block when no worker can start, are hashed on the calling thread.
 *
 * `hashAndWriteBlock` has the worker also write the block it hashed (temp file, then `link` to
 * blockstore-fs's name): one trip to a thread per leaf of an add, and no file calls on the main
 * thread (see import/fresh-leaves.ts and QuotaBlockstore.putFresh for the accounting).
 */
import { createHash } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { EncodedBlock } from './layout.js'

const log = logger('otherthing:node:import:hash')

const SHA2_256 = 0x12
/** Young generation of a hash worker, MiB. */
const WORKER_YOUNG_MB = 4
/** Below this, posting to a worker costs more than hashing. */
const WORKER_MIN_BYTES = 64 * 1024

// CommonJS source run with `eval: true`: no file to resolve, under tsx, vitest or compiled JS alike
const WORKER_SOURCE = `
const { parentPort, threadId } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
// multibase base32upper ('B' prefix, RFC 4648, no padding): blockstore-fs's file names
function base32upper (bytes) {
  let out = 'B'
  let bits = 0
  let value = 0
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31]
  return out
}
let temps = 0
// writes the block under blockstore-fs's NextToLast name through a temp file, then link():
// atomic, and it fails with EEXIST when the block is stored already (exact counting without a
// lock); the temp name is removed by a rescan after a crash
function writeBlock (w, digest, view) {
  const mh = Buffer.allocUnsafe(2 + digest.byteLength)
  mh[0] = 0x12
  mh[1] = digest.byteLength
  mh.set(digest, 2)
  const name = base32upper(mh)
  const dir = path.join(w.directory, name.slice(-2))
  const file = path.join(dir, name + '.data')
  const temp = path.join(dir, '.' + name + '.data.' + process.pid + '-w' + threadId + '-' + (++temps) + '.tmp')
  try {
    try {
      fs.writeFileSync(temp, view)
    } catch (e) {
      if (e.code !== 'ENOENT') throw e
      fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(temp, view)
    }
    let created = true
    try {
      fs.linkSync(temp, file)
    } catch (e) {
      if (e.code !== 'EEXIST') throw e
      created = false
    }
    try { fs.unlinkSync(temp) } catch {}
    return { created }
  } catch (e) {
    try { fs.rmSync(temp, { force: true }) } catch {}
    return { error: e.code, message: e.message }
  }
}
parentPort.on('message', (m) => {
  const view = new Uint8Array(m.buffer, m.offset, m.length)
  const digest = createHash('sha256').update(view).digest()
  const write = m.write != null ? writeBlock(m.write, digest, view) : undefined
  if (m.returnBuffer) parentPort.postMessage({ id: m.id, digest, write, buffer: m.buffer }, [m.buffer])
  else parentPort.postMessage({ id: m.id, digest, write })
})
`

/** What a worker did with a block it was asked to write (`created`: this write made the file). */
export interface WorkerWrite { created?: boolean, error?: string, message?: string }

/** Where a worker writes the blocks it hashed: a blockstore-fs directory with NextToLast sharding. */
export interface WriteTarget { directory: string }

interface Reply { id: number, digest: Uint8Array, buffer?: ArrayBuffer, write?: WorkerWrite }

interface Pending {
  resolve: (reply: Reply) => void
  reject: (err: Error) => void
}

class HashPool {
  private readonly workers: Array<{ worker: Worker, busy: number }> = []
  private readonly pending = new Map<number, Pending>()
  private nextId = 0
  private failed = false

  /**
   * @param size - workers for hashing alone
   * @param writeSize - workers for jobs that also write their block (at least `size`): those
   * spend most of their time in file calls, so they may use every core
   */
  constructor (private readonly size: number, private readonly writeSize: number) {}

  /** The least busy of the first `limit` workers, starting one while fewer run. */
  private pick (limit: number): { worker: Worker, busy: number } | undefined {
    if (this.failed) return undefined
    if (this.workers.length < limit) {
      try {
        // no inherited execArgv: a parent run with `--input-type=module` would make the CommonJS source ESM
        // a small young generation: the worker's garbage is a few small objects per block, and
        // V8's default (16 MiB semi-spaces) would let each worker grow its RSS by tens of MiB
        const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } })
        const slot = { worker, busy: 0 }
        worker.on('message', (m: Reply) => {
          if (--slot.busy === 0) worker.unref()
          const p = this.pending.get(m.id)
          this.pending.delete(m.id)
          p?.resolve(m)
        })
        worker.on('error', (err) => { this.fail(slot, err) })
        worker.on('exit', () => { this.fail(slot, new Error('hash worker exited')) })
        // only a busy worker keeps the process alive (unref after the listeners: adding one refs the worker again)
        worker.unref()
        this.workers.push(slot)
        return slot
      } catch (err) {
        log.error('cannot start a hash worker, hashing on the main thread: %e', err)
        this.failed = true
        return this.workers[0]
      }
    }
    let best = this.workers[0]
    for (let i = 1; i < limit && i < this.workers.length; i++) if (this.workers[i].busy < best.busy) best = this.workers[i]
    return best
  }

  private fail (slot: { worker: Worker, busy: number }, err: Error): void {
    const i = this.workers.indexOf(slot)
    if (i >= 0) this.workers.splice(i, 1)
    // the lost worker's jobs are not told apart from the others': fail every pending job
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.reject(err)
    }
  }

  /** True when blocks of this size go to a worker (and can be written there). */
  usesWorker (size: number): boolean {
    return size >= WORKER_MIN_BYTES && !this.failed
  }

  /**
   * SHA-256 of `bytes`. Resolves with the digest and the bytes to use from now
   * on (the same memory, handed back by the worker when it was transferred).
   * With `write`, a worker also writes the block into that directory (`write` in the
   * result; absent when the block was hashed on this thread and nothing was written).
   */
  async digest (bytes: Uint8Array, owned: boolean, ownsBuffer = false, write?: WriteTarget): Promise<{ digest: Uint8Array, bytes: Uint8Array, write?: WorkerWrite }> {
    const slot = bytes.byteLength >= WORKER_MIN_BYTES ? this.pick(write != null ? this.writeSize : this.size) : undefined
    if (slot == null) return { digest: createHash('sha256').update(bytes).digest(), bytes }
    // transfer our own buffer when the view covers all of it, or when the whole buffer is this
    // block's (and get it back); otherwise transfer a copy of the view
    const whole = !(bytes.buffer instanceof SharedArrayBuffer) &&
      ((owned && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) || ownsBuffer)
    const sent = whole ? bytes : new Uint8Array(bytes) // a copy (Buffer#slice would share the memory)
    const id = this.nextId++
    const length = bytes.byteLength
    const offset = sent.byteOffset
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (m) => { resolve({ digest: m.digest, write: m.write, bytes: whole && m.buffer != null ? new Uint8Array(m.buffer, offset, length) : bytes }) },
        reject
      })
      if (slot.busy++ === 0) slot.worker.ref()
      try {
        slot.worker.postMessage({ id, buffer: sent.buffer, offset, length, returnBuffer: whole, write }, [sent.buffer as ArrayBuffer])
      } catch (err) {
        if (--slot.busy === 0) slot.worker.unref()
        this.pending.delete(id)
        reject(err)
      }
    })
  }
}

let pool: HashPool | undefined

function hashPool (): HashPool {
  // hashing alone: the main thread keeps one core for reading, encoding and the rest of the
  // import. Hashing and writing (an add's leaves): a worker spends most of its time in the
  // kernel's file calls and the main thread little, so one worker per core. On 2 cores, 256 MiB
  // kubo add (docs/performance.md 2026-12-04): two writing workers 1.41 s on average, one
  // 1.91 s, leaves written from the main thread 1.74 s (4 runs each, alternated, load 2.5-3);
  // at load 5, with no core to spare, the same (1.57 against 1.58 s)
  const cores = availableParallelism()
  pool ??= new HashPool(Math.max(1, Math.min(4, cores - 1)), Math.max(1, Math.min(4, cores)))
  return pool
}

function toCid (block: EncodedBlock, digest: Uint8Array): CID {
  const mh = Digest.create(SHA2_256, digest)
  return block.version === 0 ? CID.createV0(mh) : CID.createV1(block.code, mh)
}

/**
 * The CID of an encoded block (SHA-256 multihash), and the block's bytes to
 * write (the same memory; use these, the input view may have been detached).
 */
export async function hashBlock (block: EncodedBlock): Promise<{ cid: CID, bytes: Uint8Array }> {
  const { digest, bytes } = await hashPool().digest(block.bytes, block.owned === true, block.ownsBuffer === true)
  return { cid: toCid(block, digest), bytes }
}

/**
 * Hashes a block and, on a worker, writes it under `target` in the same step (one trip to a
 * thread instead of a trip there and the file calls on this one). `write` tells what the worker
 * did: `created` (true: this call made the file; false: it was there), or `error` (the fs
 * error's code, nothing left behind); absent when nothing was written (a small block, or no
 * worker), and the caller writes it the usual way.
 */
export async function hashAndWriteBlock (block: EncodedBlock, target: WriteTarget): Promise<{ cid: CID, bytes: Uint8Array, write?: WorkerWrite }> {
  const { digest, bytes, write } = await hashPool().digest(block.bytes, block.owned === true, block.ownsBuffer === true, target)
  return { cid: toCid(block, digest), bytes, write }
}

/** True when a block of `size` bytes is hashed (and can be written) on a worker. */
export function hashedOnWorker (size: number): boolean {
  return hashPool().usesWorker(size)
}

/** The CID of an encoded block, hashed on the calling thread. */
export function blockCidSync (block: EncodedBlock): CID {
  return toCid(block, createHash('sha256').update(block.bytes).digest())
}

/**
 * SHA-256 of `bytes`, whose whole `ArrayBuffer` the caller owns and hands over: a large block
 * is transferred to a hash worker and back (no copy). Use the returned bytes from then on; the
 * input view (and every other view of its buffer) may be detached.
 */
export async function sha256Transfer (bytes: Uint8Array): Promise<{ digest: Uint8Array, bytes: Uint8Array }> {
  return hashPool().digest(bytes, false, true)
}
