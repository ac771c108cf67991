/**
 * SHA-256 CIDs of blocks. Large blocks are hashed in a small pool of worker
 * threads (native OpenSSL via node:crypto, SHA extensions where the CPU has
 * them) so the main thread keeps reading, encoding and writing. A block we
 * encoded is transferred to the worker and back, not copied; the caller's
 * bytes (raw leaves) are copied, never detached. Small blocks, and
 * any block when no worker can start, are hashed on the calling thread.
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
/** Below this, posting to a worker costs more than hashing. */
const WORKER_MIN_BYTES = 64 * 1024

// CommonJS source run with `eval: true`: no file to resolve, under tsx, vitest or compiled JS alike
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
parentPort.on('message', (m) => {
  const view = new Uint8Array(m.buffer, m.offset, m.length)
  const digest = createHash('sha256').update(view).digest()
  if (m.returnBuffer) parentPort.postMessage({ id: m.id, digest, buffer: m.buffer }, [m.buffer])
  else parentPort.postMessage({ id: m.id, digest })
})
`

interface Pending {
  resolve: (digest: Uint8Array, buffer?: ArrayBuffer) => void
  reject: (err: Error) => void
}

class HashPool {
  private readonly workers: Array<{ worker: Worker, busy: number }> = []
  private readonly pending = new Map<number, Pending>()
  private nextId = 0
  private failed = false

  constructor (private readonly size: number) {}

  private pick (): { worker: Worker, busy: number } | undefined {
    if (this.failed) return undefined
    if (this.workers.length < this.size) {
      try {
        // no inherited execArgv: a parent run with `--input-type=module` would make the CommonJS source ESM
        const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] })
        const slot = { worker, busy: 0 }
        worker.on('message', (m: { id: number, digest: Uint8Array, buffer?: ArrayBuffer }) => {
          if (--slot.busy === 0) worker.unref()
          const p = this.pending.get(m.id)
          this.pending.delete(m.id)
          p?.resolve(m.digest, m.buffer)
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
    for (const w of this.workers) if (w.busy < best.busy) best = w
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

  /**
   * SHA-256 of `bytes`. Resolves with the digest and the bytes to use from now
   * on (the same memory, handed back by the worker when it was transferred).
   */
  async digest (bytes: Uint8Array, owned: boolean, ownsBuffer = false): Promise<{ digest: Uint8Array, bytes: Uint8Array }> {
    const slot = bytes.byteLength >= WORKER_MIN_BYTES ? this.pick() : undefined
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
        resolve: (digest, buffer) => { resolve({ digest, bytes: whole && buffer != null ? new Uint8Array(buffer, offset, length) : bytes }) },
        reject
      })
      if (slot.busy++ === 0) slot.worker.ref()
      try {
        slot.worker.postMessage({ id, buffer: sent.buffer, offset, length, returnBuffer: whole }, [sent.buffer as ArrayBuffer])
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
  // the main thread keeps one core for reading, encoding and writing
  pool ??= new HashPool(Math.max(1, Math.min(4, availableParallelism() - 1)))
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
