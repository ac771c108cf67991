/**
 * Requesting side of the DAG transfer protocol, against one peer: sends the
 * frontier (CIDs of the subDAGs still missing), then accepts a block only if
 * it is one of the CIDs it expects (a requested CID or a link of a block
 * already accepted, so a peer cannot inject unrelated blocks) and its bytes
 * hash to that CID. Accepted blocks are written through the blockstore (the
 * quota applies) a few at a time while the stream keeps flowing.
 */
import { createHash } from 'node:crypto'
import { InvalidMessageError } from '../../errors.js'
import { mhKey, readLinks } from '../dag.js'
import { createFrameReader } from './frame-reader.js'
import { decodeFrame, encodeRequest, FRAME_BLOCK, FRAME_BUSY, FRAME_END, FRAME_MISSING } from './frames.js'
import { openReceiveWindow } from './window.js'
import type { GetCodec } from './server.js'
import type { Stream } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** Helia's `getHasher` (a loader that may answer synchronously) or a narrower one. */
export type GetHasher = (code: number) => Promise<{ digest(bytes: Uint8Array): Promise<{ digest: Uint8Array }> | { digest: Uint8Array } }> | { digest(bytes: Uint8Array): Promise<{ digest: Uint8Array }> | { digest: Uint8Array } }

/** A block of the DAG now stored locally. */
export interface BlockEvent {
  cid: CID
  bytes: Uint8Array
  links: Array<{ cid: CID, tsize?: number }>
  /** `true` when this transfer wrote it (it was not stored before). */
  fetched: boolean
}

export interface ReceiveInit {
  blockstore: Pick<Blockstore, 'has' | 'put'>
  getCodec: GetCodec
  getHasher: GetHasher
  maxBlockSize: number
  /** Pause the stream above this many bytes received but not yet written. */
  highWaterMark: number
  writeConcurrency: number
  signal: AbortSignal
  /** Bytes arrived (progress timer). */
  onActivity: () => void
  onBlock: (event: BlockEvent) => void
  /** The peer does not have this block (its subDAG was not sent). */
  onMissing?: (cid: CID) => void
}

/** A peer broke the protocol or sent a block that does not match its CID. */
export class PeerMisbehavedError extends InvalidMessageError {}

/** Writing to the local blockstore failed (quota, disk): not the peer's fault, the pin fails. */
export class LocalWriteError extends Error {
  override name = 'LocalWriteError'
}

export interface ReceiveResult {
  /** The peer sent `end`: every requested subDAG was sent or reported missing. */
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
 * Requests `expected`'s CIDs on `stream` and receives blocks until the peer ends.
 * `expected` (mhKey -> CID, in DAG order) is updated in place: received blocks
 * leave it, their links join it. `done` holds keys of blocks already stored.
 * @throws {PeerMisbehavedError} bad frame, unexpected block, hash mismatch
 * @throws {LocalWriteError} a blockstore write failed (`cause` is the original error)
 */
export async function receiveTransfer (stream: Stream, request: CID[], expected: Map<string, CID>, done: Set<string>, init: ReceiveInit): Promise<ReceiveResult> {
  const reader = createFrameReader(stream, {
    maxFrameLength: init.maxBlockSize + 256,
    highWaterMark: init.highWaterMark,
    onActivity: init.onActivity
  })
  const writes = new Set<Promise<void>>()
  let writeError: { err: unknown } | undefined
  let blocks = 0
  const write = async (cid: CID, bytes: Uint8Array, links: BlockEvent['links']): Promise<void> => {
    try {
      const present = await init.blockstore.has(cid, { signal: init.signal })
      if (!present) await init.blockstore.put(cid, bytes, { signal: init.signal })
      init.onBlock({ cid, bytes, links, fetched: !present })
    } catch (err) {
      writeError ??= { err }
    } finally {
      reader.release(bytes.byteLength)
    }
  }
  try {
    stream.send(encodeRequest(request))
    openReceiveWindow(stream)
    while (true) {
      if (writeError != null) break
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
        init.onMissing?.(frame.cid)
        reader.release(body.byteLength)
        continue
      }
      if (frame.type !== FRAME_BLOCK) throw new PeerMisbehavedError('Unexpected frame')
      const k = mhKey(frame.cid)
      const cid = expected.get(k)
      // only blocks reachable from the root, each once, with the codec of the link that named it
      if (cid == null) throw new PeerMisbehavedError(`Unexpected block ${frame.cid}`)
      if (frame.data.byteLength > init.maxBlockSize) throw new PeerMisbehavedError('Block too large')
      if (!await hashMatches(cid, frame.data, init.getHasher)) throw new PeerMisbehavedError(`Block ${cid} does not match its hash`)
      let links: BlockEvent['links']
      try {
        links = (await readLinks(cid, frame.data, init.getCodec)).links
      } catch (err) {
        throw new PeerMisbehavedError(`Block ${cid} does not decode`, { cause: err })
      }
      expected.delete(k)
      done.add(k)
      for (const l of links) {
        const lk = mhKey(l.cid)
        if (!done.has(lk) && !expected.has(lk)) expected.set(lk, l.cid)
      }
      blocks++
      // the frame's other bytes (type, CID) are released now, the data once written
      reader.release(body.byteLength - frame.data.byteLength)
      const p = write(cid, frame.data, links)
      writes.add(p)
      void p.finally(() => writes.delete(p))
      while (writes.size >= init.writeConcurrency) await Promise.race(writes)
    }
    throw new LocalWriteError('Writing a received block failed', { cause: writeError.err })
  } finally {
    reader.stop()
    await Promise.allSettled(writes)
    if (writeError != null && !(init.signal.aborted)) {
      // surfaced after the loop, or here when the loop ended first
      // eslint-disable-next-line no-unsafe-finally
      throw new LocalWriteError('Writing a received block failed', { cause: writeError.err })
    }
  }
}
