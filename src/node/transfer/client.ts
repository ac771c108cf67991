/**
 * Requesting side of the DAG transfer protocol, one request on one stream:
 * sends the request, then accepts a block only if it is one this request
 * expects (a requested CID, or a link of a block it already accepted, so a
 * peer cannot inject unrelated blocks) and its bytes hash to that CID. Hashes
 * are checked while the socket goes on being read; blocks are settled in
 * stream order, each written only once it and every earlier block matched.
 * Accepted blocks go to the fetch's shared `BlockWriter` with the frame's own
 * bytes (no copy); a block another stream of the same fetch already stored is
 * checked and dropped. `cancel()` asks the peer to stop after its current
 * block; what it had sent by then is still accepted.
 */
import { createHash } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { CID } from 'multiformats/cid'
import { logger } from '@libp2p/logger'
import { InvalidMessageError } from '../../errors.js'
import { mhKey, readLinks } from '../dag.js'
import { sha256Transfer } from '../import/hash.js'
import { createFrameReader } from './frame-reader.js'
import { decodeFrame, encodeRequest, encodeSignal, FRAME_BLOCK, FRAME_BUSY, FRAME_CANCEL, FRAME_END, FRAME_MISSING, FRAME_REQUEST, FRAME_REQUEST_BLOCKS } from './frames.js'
import { openReceiveWindow } from './window.js'
import { LocalWriteError } from './writer.js'
import type { GetCodec } from './server.js'
import type { BlockWriter } from './writer.js'
import type { Stream } from '@libp2p/interface'

export { LocalWriteError } from './writer.js'

const log = logger('otherthing-storage:transfer:client')

/** Helia's `getHasher` (a loader that may answer synchronously) or a narrower one. */
export type GetHasher = (code: number) => Promise<{ digest(bytes: Uint8Array): Promise<{ digest: Uint8Array }> | { digest: Uint8Array } }> | { digest(bytes: Uint8Array): Promise<{ digest: Uint8Array }> | { digest: Uint8Array } }

/** A link with its cumulative size when the codec gives one (dag-pb's Tsize). */
export interface Want {
  cid: CID
  size?: number
}

/** A block of the DAG now stored locally. */
export interface BlockEvent {
  cid: CID
  /** The block's bytes, valid during the callback only (a received block's memory is reused after it). */
  bytes: Uint8Array
  links: Array<{ cid: CID, tsize?: number }>
  /** `true` when this transfer wrote it (it was not stored before). */
  fetched: boolean
}

export interface ReceiveInit {
  getCodec: GetCodec
  getHasher: GetHasher
  maxBlockSize: number
  /** Pause the stream above this many bytes received but not yet written. */
  highWaterMark: number
  /** Receive window granted to the peer up front. @default the stream's maximum */
  window?: number
  writer: BlockWriter
  signal: AbortSignal
  /** `true` when another stream of the fetch already took this block (mhKey). */
  isTaken: (key: string) => boolean
  /** This stream takes the block (mhKey): no other stream writes it. */
  take: (key: string) => void
  /** Keys the fetch found absent locally: written without an existence check. */
  knownMissing: Set<string>
  /** Bytes arrived (progress timer). */
  onActivity: () => void
  /** A block this request delivered is stored (after the write). */
  onBlock: (event: BlockEvent) => void
  /** The peer does not have this block (its subDAG was not sent): no longer this request's. */
  onMissing: (want: Want) => void
  /** Called with a function that asks the peer to stop after its current block. */
  onCancelReady?: (cancel: () => void) => void
}

/** A peer broke the protocol or sent a block that does not match its CID. */
export class PeerMisbehavedError extends InvalidMessageError {}

export interface ReceiveResult {
  /** The peer sent `end`: every requested subDAG was sent or reported missing (or it was cancelled). */
  complete: boolean
  busy: boolean
  /** Blocks accepted. */
  blocks: number
}

/**
 * Blocks at least this large are verified in the hash worker pool (import/hash.ts), off the main
 * thread, where the machine has a core to spare for it (4 or more): on 2 cores the worker only
 * competed with the main thread and the libuv threads (pins 41 and 32 MiB/s against 58 and 75 on
 * the main thread, in the same run) and added ~25 MiB of RSS.
 */
const WORKER_HASH_BYTES = availableParallelism() >= 4 ? 64 * 1024 : Infinity

function digestMatches (cid: CID, digest: Uint8Array): boolean {
  const mh = cid.multihash
  return digest.byteLength >= mh.size && Buffer.compare(Buffer.from(digest.buffer, digest.byteOffset, mh.size), Buffer.from(mh.digest)) === 0
}

/**
 * The block's bytes when they hash to `cid`, `undefined` when they do not. SHA-256 blocks of
 * `workerMinBytes` or more (default: 64 KiB with 4+ cores, never on fewer) go to a hash worker with their frame's buffer (transferred, handed back: use the returned
 * bytes, the frame is detached meanwhile); others are hashed here.
 */
export async function verified (cid: CID, bytes: Uint8Array, getHasher: GetHasher, workerMinBytes = WORKER_HASH_BYTES): Promise<Uint8Array | undefined> {
  const mh = cid.multihash
  if (mh.code === 0x12) {
    if (bytes.byteLength >= workerMinBytes) {
      const r = await sha256Transfer(bytes)
      return digestMatches(cid, r.digest) ? r.bytes : undefined
    }
    return digestMatches(cid, createHash('sha256').update(bytes).digest()) ? bytes : undefined
  }
  const digest = mh.code === 0x00 ? bytes : (await (await getHasher(mh.code)).digest(bytes)).digest
  return digestMatches(cid, digest) ? bytes : undefined
}

/** A CID on memory of its own (a CID decoded from a frame views the frame, which may be detached). */
function ownCid (cid: CID): CID {
  return CID.decode(Uint8Array.prototype.slice.call(cid.bytes))
}

/** A block taken off `expected` whose hash is being checked (blocks are settled in stream order). */
interface Pending {
  key: string
  want: Want
  links: BlockEvent['links']
  /** link keys this block added to `expected` (taken back if it or an earlier block fails) */
  added: string[]
  check: Promise<Uint8Array | undefined>
}

/**
 * Sends `request` on `stream` (whole subDAGs, or `blocksOnly`) and receives until the peer ends.
 * `expected` (mhKey -> Want) is this request's: received blocks leave it and, unless
 * `blocksOnly`, their links join it; what is left when this returns or throws is
 * what the peer did not send.
 * @throws {PeerMisbehavedError} bad frame, unexpected block, hash mismatch
 * @throws {LocalWriteError} a blockstore write failed (`cause` is the original error)
 */
export async function receiveTransfer (stream: Stream, request: CID[], blocksOnly: boolean, expected: Map<string, Want>, init: ReceiveInit): Promise<ReceiveResult> {
  const reader = createFrameReader(stream, {
    maxFrameLength: init.maxBlockSize + 256,
    highWaterMark: init.highWaterMark,
    onActivity: init.onActivity
  })
  // writes of this stream not yet stored (a count: a promise a block was garbage by the thousand)
  let writing = 0
  let written: (() => void) | undefined
  // blocks whose hash is being checked, in stream order: the socket keeps being read meanwhile
  const pending: Pending[] = []
  let settling: Promise<void> | undefined
  let failure: Error | undefined
  let blocks = 0
  let cancelled = false

  const write = (p: Pending, data: Uint8Array): void => {
    if (init.isTaken(p.key)) {
      // another stream of this fetch has it (a block shared by two subDAGs)
      reader.release(data.byteLength)
      return
    }
    init.take(p.key)
    const cid = p.want.cid
    // the writer may lend the frame's buffer to the fs write worker: its length is read now
    const length = data.byteLength
    writing++
    init.writer.write(cid, data, init.knownMissing.has(p.key), (fetched, err, bytes) => {
      reader.release(length)
      if (err == null) {
        init.onBlock({ cid, bytes, links: p.links, fetched })
        // in a file now, and onBlock keeps no reference: a later frame of this length reuses the memory
        if (init.writer.bytesReusable) reader.recycle(bytes.buffer as ArrayBuffer)
      }
      if (--writing === 0) written?.()
    })
  }

  /** Settles checked blocks in order; a block is written only once it and every block before it matched. */
  const settle = async (): Promise<void> => {
    while (pending.length > 0 && failure == null) {
      const p = pending[0]
      const data = await p.check
      if (data == null) {
        failure = new PeerMisbehavedError(`Block ${p.want.cid} does not match its hash`)
        break
      }
      pending.shift()
      blocks++
      write(p, data)
    }
    settling = undefined
    if (failure != null) {
      // what was not stored is this request's again, its links (from unchecked bytes) are not
      for (let i = pending.length - 1; i >= 0; i--) {
        const p = pending[i]
        for (const lk of p.added) expected.delete(lk)
        expected.set(p.key, p.want)
      }
      pending.length = 0
      reader.abort(failure)
    }
  }

  const enqueueCheck = (p: Pending): void => {
    pending.push(p)
    // a check that rejects (the hash worker died) fails the stream like a bad block
    p.check = p.check.catch(err => {
      failure ??= new PeerMisbehavedError(`Block ${p.want.cid} could not be checked`, { cause: err })
      return undefined
    })
    settling ??= settle()
  }

  try {
    stream.send(encodeRequest(request, blocksOnly ? FRAME_REQUEST_BLOCKS : FRAME_REQUEST))
    openReceiveWindow(stream, init.window)
    init.onCancelReady?.(() => {
      if (cancelled || stream.status !== 'open') return
      cancelled = true
      stream.send(encodeSignal(FRAME_CANCEL))
    })
    while (true) {
      if (failure != null) throw failure
      if (init.writer.error != null) throw init.writer.error
      // many small blocks: the frames wait in the reader (bytes only) rather than as writes
      await init.writer.room()
      let body: Uint8Array | null
      try {
        body = await reader.next()
      } catch (err) {
        throw failure ?? err
      }
      if (body == null) {
        await settling
        if (failure != null) throw failure
        return { complete: false, busy: false, blocks }
      }
      let frame
      try {
        frame = decodeFrame(body)
      } catch (err) {
        throw new PeerMisbehavedError('Invalid frame', { cause: err })
      }
      if (frame.type === FRAME_END || frame.type === FRAME_BUSY) {
        await settling
        if (failure != null) throw failure
        return { complete: frame.type === FRAME_END, busy: frame.type === FRAME_BUSY, blocks }
      }
      if (frame.type === FRAME_MISSING) {
        const k = mhKey(frame.cid)
        const want = expected.get(k)
        if (want != null) {
          expected.delete(k)
          init.onMissing(want)
        }
        reader.release(body.byteLength)
        continue
      }
      if (frame.type !== FRAME_BLOCK) throw new PeerMisbehavedError('Unexpected frame')
      const k = mhKey(frame.cid)
      const want = expected.get(k)
      // only blocks reachable from the request, each once, with the codec of the link that named it
      if (want == null) throw new PeerMisbehavedError(`Unexpected block ${frame.cid}`)
      const cid = want.cid
      const data = frame.data
      if (data.byteLength > init.maxBlockSize) throw new PeerMisbehavedError('Block too large')
      // the links are read before the hash is known (the next frames may be children of this
      // block); they count only once the block matched, and a mismatch takes them back
      let links: BlockEvent['links']
      try {
        links = (await readLinks(cid, data, init.getCodec)).links
      } catch (err) {
        throw new PeerMisbehavedError(`Block ${cid} does not decode`, { cause: err })
      }
      // the check may detach the frame: links keep CIDs of their own
      if (links.length > 0) links = links.map(l => ({ ...l, cid: ownCid(l.cid) }))
      expected.delete(k)
      const added: string[] = []
      // the peer goes on with this block's subDAG: its links are this request's to receive
      if (!blocksOnly) {
        for (const l of links) {
          const lk = mhKey(l.cid)
          if (!expected.has(lk)) {
            expected.set(lk, { cid: l.cid, size: l.tsize })
            added.push(lk)
          }
        }
      }
      // the frame's other bytes (type, CID) are released now, the data once written
      reader.release(body.byteLength - data.byteLength)
      enqueueCheck({ key: k, want, links, added, check: verified(cid, data, init.getHasher) })
    }
  } finally {
    reader.stop()
    if (settling != null) await settling.catch((err: Error) => { log.error('settling received blocks failed - %e', err) })
    if (writing > 0) await new Promise<void>(resolve => { written = resolve })
    // eslint-disable-next-line no-unsafe-finally
    if (init.writer.error != null && !init.signal.aborted) throw init.writer.error
  }
}

export function isLocalWriteError (err: unknown): err is LocalWriteError {
  return err instanceof LocalWriteError
}
