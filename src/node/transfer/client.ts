/**
 * Requesting side of the DAG transfer protocol, one request on one stream:
 * sends the request, then accepts a block only if it is one this request
 * expects (a requested CID, or a link of a block it already accepted, so a
 * peer cannot inject unrelated blocks) and its bytes hash to that CID.
 * Accepted blocks go to the fetch's shared `BlockWriter` with the frame's own
 * bytes (no copy); a block another stream of the same fetch already stored is
 * checked and dropped. `cancel()` asks the peer to stop after its current
 * block; what it had sent by then is still accepted.
 */
import { createHash } from 'node:crypto'
import { InvalidMessageError } from '../../errors.js'
import { mhKey, readLinks } from '../dag.js'
import { createFrameReader } from './frame-reader.js'
import { decodeFrame, encodeRequest, encodeSignal, FRAME_BLOCK, FRAME_BUSY, FRAME_CANCEL, FRAME_END, FRAME_MISSING, FRAME_REQUEST, FRAME_REQUEST_BLOCKS } from './frames.js'
import { openReceiveWindow } from './window.js'
import { LocalWriteError } from './writer.js'
import type { GetCodec } from './server.js'
import type { BlockWriter } from './writer.js'
import type { Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export { LocalWriteError } from './writer.js'

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

async function hashMatches (cid: CID, bytes: Uint8Array, getHasher: GetHasher): Promise<boolean> {
  const mh = cid.multihash
  let digest: Uint8Array
  if (mh.code === 0x12) {
    digest = createHash('sha256').update(bytes).digest()
  } else if (mh.code === 0x00) {
    digest = bytes
  } else {
    digest = (await (await getHasher(mh.code)).digest(bytes)).digest
  }
  return digest.byteLength >= mh.size && Buffer.compare(Buffer.from(digest.buffer, digest.byteOffset, mh.size), Buffer.from(mh.digest)) === 0
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
  const writes = new Set<Promise<void>>()
  let blocks = 0
  let cancelled = false
  try {
    stream.send(encodeRequest(request, blocksOnly ? FRAME_REQUEST_BLOCKS : FRAME_REQUEST))
    openReceiveWindow(stream, init.window)
    init.onCancelReady?.(() => {
      if (cancelled || stream.status !== 'open') return
      cancelled = true
      stream.send(encodeSignal(FRAME_CANCEL))
    })
    while (true) {
      if (init.writer.error != null) throw init.writer.error
      const body = await reader.next()
      if (body == null) return { complete: false, busy: false, blocks }
      let frame
      try {
        frame = decodeFrame(body)
      } catch (err) {
        throw new PeerMisbehavedError('Invalid frame', { cause: err })
      }
      if (frame.type === FRAME_END) return { complete: true, busy: false, blocks }
      if (frame.type === FRAME_BUSY) return { complete: false, busy: true, blocks }
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
      if (!await hashMatches(cid, data, init.getHasher)) throw new PeerMisbehavedError(`Block ${cid} does not match its hash`)
      let links: BlockEvent['links']
      try {
        links = (await readLinks(cid, data, init.getCodec)).links
      } catch (err) {
        throw new PeerMisbehavedError(`Block ${cid} does not decode`, { cause: err })
      }
      expected.delete(k)
      // the peer goes on with this block's subDAG: its links are this request's to receive
      if (!blocksOnly) {
        for (const l of links) {
          const lk = mhKey(l.cid)
          if (!expected.has(lk)) expected.set(lk, { cid: l.cid, size: l.tsize })
        }
      }
      blocks++
      // the frame's other bytes (type, CID) are released now, the data once written
      reader.release(body.byteLength - data.byteLength)
      if (init.isTaken(k)) {
        // another stream of this fetch has it (a block shared by two subDAGs)
        reader.release(data.byteLength)
        continue
      }
      init.take(k)
      const p = new Promise<void>(resolve => {
        init.writer.write(cid, data, init.knownMissing.has(k), (fetched, err) => {
          reader.release(data.byteLength)
          if (err == null) init.onBlock({ cid, bytes: data, links, fetched })
          resolve()
        })
      })
      writes.add(p)
      void p.then(() => writes.delete(p))
    }
  } finally {
    reader.stop()
    await Promise.all(writes)
    // eslint-disable-next-line no-unsafe-finally
    if (init.writer.error != null && !init.signal.aborted) throw init.writer.error
  }
}

export function isLocalWriteError (err: unknown): err is LocalWriteError {
  return err instanceof LocalWriteError
}
