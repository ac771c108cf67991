/**
 * Serving side of the DAG transfer protocol: reads the request (a list of
 * CIDs), then streams every block of each requested subDAG in depth-first
 * pre-order (parents before children, each block once). Only blocks stored
 * locally are served (a block it does not have is reported missing and its
 * subDAG skipped; it never fetches on the requester's behalf). A
 * request-blocks frame asks for the listed blocks only, and a cancel frame
 * from the requester stops the stream after the current block. Reads run a
 * few blocks ahead of the socket; writes wait for the stream to drain, so
 * memory stays flat whatever the DAG size.
 */
import { logger } from '@libp2p/logger'
import { Uint8ArrayList } from 'uint8arraylist'
import { collect, mhKey, readLinks } from '../dag.js'
import { createFrameReader } from './frame-reader.js'
import { decodeFrame, encodeBlock, encodeMissing, encodeSignal, FRAME_BUSY, FRAME_CANCEL, FRAME_END, FRAME_REQUEST, FRAME_REQUEST_BLOCKS } from './frames.js'
import type { GetCodec } from '../dag.js'
import type { Stream } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

export type { GetCodec }

const log = logger('otherthing-storage:transfer:server')

/** What a server does, for metrics and tests: a request starts, a block (or missing) goes out, the request ends. */
export type ServeEvent =
  | { type: 'request', id: number, peer: string, cids: CID[], blocksOnly: boolean }
  | { type: 'block', id: number, cid: CID, found: boolean }
  | { type: 'end', id: number, cancelled: boolean, error?: Error }

let nextRequestId = 0

/**
 * What `Stream.send` takes. Our `uint8arraylist` (2.x) is another major than libp2p's (3.x); a list
 * is recognised by its `Symbol.for` marker, which both share, so ours is taken as a list as it is.
 */
type StreamBytes = Parameters<Stream['send']>[0]

/** Below this mean block size reads go through `readBlock` (batched); larger ones through the blockstore. */
const SMALL_BLOCK = 64 * 1024
/**
 * Largest link Tsize passed to `readBlock` as the block's size: a leaf of 1 MiB chunks and its
 * dag-pb envelope fit; a larger Tsize is a parent's (its subtree), whose own block is small.
 */
const MAX_SIZE_HINT = 1024 * 1024 + 1024

export interface DagServerInit {
  /** Local blocks only (no network). */
  blockstore: Pick<Blockstore, 'get'>
  getCodec: GetCodec
  /** Blocks read ahead of the stream (at least; more while blocks are small, see `readAheadBytes`). */
  readAhead: number
  /**
   * Bytes read ahead of the stream: while the blocks are small, up to this many bytes of them
   * (at most `maxReadAhead` blocks) are read at once, so a folder of small files goes to the
   * fs worker in batches. @default readAhead blocks of 256 KiB
   */
  readAheadBytes?: number
  /** Most blocks read ahead. @default 256 */
  maxReadAhead?: number
  /**
   * Reads a local block straight from its file (`BlockLayout.readBatched`); undefined when it
   * is not there (the read then goes through `blockstore`, which says why). `expectedSize` is
   * the size its parent's link gave (dag-pb `Tsize`, exact for a leaf): the file is then read
   * with one `read` into a buffer of that size, no `fstat`, no FileHandle, no stream of chunks.
   */
  readBlock?: (cid: CID, expectedSize?: number) => Promise<Uint8Array | undefined>
  /** Largest request frame accepted, bytes. */
  maxRequestLength: number
  /** Give up when the requester does not read or send for this long, ms. */
  idleTimeout: number
  /** Bytes queued in the stream's write buffer above which sending waits. */
  maxQueued: number
  /** The requesting peer (for `onServe`). */
  peer?: string
  onServe?: (event: ServeEvent) => void
}

/** A block to send: its key, the size its link gave (when a leaf's), its read once started. */
interface Pending {
  cid: CID
  key: string
  size?: number
  read?: Promise<Uint8Array | undefined>
}

/** Resolves when the stream drains or goes idle (or after a few ms, to look again). */
async function queueShrinks (stream: Stream, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      stream.removeEventListener('drain', done)
      stream.removeEventListener('idle', done)
      stream.removeEventListener('close', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, 5)
    stream.addEventListener('drain', done)
    stream.addEventListener('idle', done)
    stream.addEventListener('close', done)
    signal.addEventListener('abort', done)
  })
  signal.throwIfAborted()
}

/**
 * One local block, or `undefined` when it is not stored. No abort signal: blockstore-fs races
 * its `open()` against the signal, and a file opened after the abort was never closed ("Closing
 * FileHandle on GC" after a cancelled or aborted request with reads ahead). A block read is
 * short and the reads ahead are bounded; the request waits for them when it ends.
 */
async function readLocal (init: Pick<DagServerInit, 'blockstore' | 'readBlock'>, cid: CID, small: boolean, expectedSize: number | undefined): Promise<Uint8Array | undefined> {
  if (cid.multihash.code === 0x00) return cid.multihash.digest
  try {
    // with a size from the link, any block (a large one in one read on libuv's pool); without,
    // small ones only (read whole on the fs worker; a large one would be read twice)
    const fast = expectedSize != null || small ? await init.readBlock?.(cid, expectedSize) : undefined
    if (fast != null) return fast
    return await collect(init.blockstore.get(cid) as AsyncIterable<Uint8Array>)
  } catch (err) {
    // not stored (or unreadable): reported missing to the requester
    if ((err as Error)?.name !== 'NotFoundError') log('reading %c failed - %e', cid, err)
    return undefined
  }
}

/** Sends `busy` and closes: the requester asks another peer. */
export async function refuseTransfer (stream: Stream): Promise<void> {
  try {
    stream.send(encodeSignal(FRAME_BUSY))
    await stream.close({ signal: AbortSignal.timeout(5000) })
  } catch (err) {
    log('refusing a transfer failed - %e', err)
    stream.abort(err as Error)
  }
}

/** Serves one transfer request on `stream`. Never throws (the stream is aborted on error). */
export async function serveTransfer (stream: Stream, init: DagServerInit): Promise<void> {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const touch = (): void => {
    if (timer != null) clearTimeout(timer)
    timer = setTimeout(() => { controller.abort(new Error('transfer requester idle')) }, init.idleTimeout)
    timer.unref?.()
  }
  const signal = controller.signal
  const onClose = (): void => { controller.abort(new Error('stream closed')) }
  stream.addEventListener('close', onClose)
  touch()
  const reader = createFrameReader(stream, { maxFrameLength: init.maxRequestLength, highWaterMark: init.maxRequestLength, onActivity: touch })
  const id = nextRequestId++
  let started = false
  let cancelled = false
  let failure: Error | undefined
  // blocks to send, the next on top, with their reads once started
  const stack: Pending[] = []
  try {
    const body = await reader.next()
    if (body == null) throw new Error('no request')
    const request = decodeFrame(body)
    reader.release(body.byteLength)
    if (request.type !== FRAME_REQUEST && request.type !== FRAME_REQUEST_BLOCKS) throw new Error('expected a request')
    const blocksOnly = request.type === FRAME_REQUEST_BLOCKS
    started = true
    init.onServe?.({ type: 'request', id, peer: init.peer ?? '', cids: request.cids, blocksOnly })
    // the only frame a requester sends after its request: cancel
    void reader.next().then((next) => {
      if (next == null) return
      reader.release(next.byteLength)
      if (decodeFrame(next).type === FRAME_CANCEL) cancelled = true
      else controller.abort(new Error('unexpected frame after the request'))
    }, (err: Error) => { controller.abort(err) })

    const seen = new Set<string>()
    for (let i = request.cids.length - 1; i >= 0; i--) {
      const key = mhKey(request.cids[i])
      if (seen.has(key)) continue
      seen.add(key)
      stack.push({ cid: request.cids[i], key })
    }
    const readAheadBytes = init.readAheadBytes ?? init.readAhead * 256 * 1024
    const maxReadAhead = Math.max(init.readAhead, init.maxReadAhead ?? 256)
    // running mean of the sizes sent: how many blocks fit in readAheadBytes, and whether they are
    // small (starts as large blocks: a burst of 256 KiB reads ahead would hold far more than the budget)
    let meanSize = 256 * 1024
    while (stack.length > 0 && !cancelled) {
      signal.throwIfAborted()
      const ahead = Math.min(maxReadAhead, Math.max(init.readAhead, Math.floor(readAheadBytes / Math.max(1, meanSize))))
      // read ahead: the top of the stack is what goes out next. The reads start in groups (once
      // half of the next `ahead` blocks are unread, or the next one is), so a group goes to the
      // fs worker in one message instead of one message a block
      const small = meanSize <= SMALL_BLOCK
      let unread = 0
      for (let i = stack.length - 1; i >= 0 && i >= stack.length - ahead; i--) if (stack[i].read == null) unread++
      if (unread >= ahead / 2 || stack[stack.length - 1].read == null) {
        for (let i = stack.length - 1; i >= 0 && i >= stack.length - ahead; i--) {
          const p = stack[i]
          p.read ??= readLocal(init, p.cid, small, p.size)
        }
      }
      const { cid, read } = stack.pop() as Pending
      const bytes = await read
      let send: boolean
      init.onServe?.({ type: 'block', id, cid, found: bytes != null })
      if (bytes == null) {
        send = stream.send(encodeMissing(cid))
      } else {
        meanSize += (bytes.byteLength - meanSize) / 8
        let links: Array<{ cid: CID, tsize?: number }> = []
        try {
          if (!blocksOnly) links = (await readLinks(cid, bytes, init.getCodec)).links
        } catch (err) {
          // a block we cannot decode is sent as it is (the requester decides), its links are not followed
          log('links of %c unreadable - %e', cid, err)
        }
        for (let i = links.length - 1; i >= 0; i--) {
          const link = links[i]
          const key = mhKey(link.cid)
          if (seen.has(key)) continue
          seen.add(key)
          // a parent's Tsize counts its subtree: only a size a leaf can have is a useful hint
          stack.push({ cid: link.cid, key, size: link.tsize != null && link.tsize <= MAX_SIZE_HINT ? link.tsize : undefined })
        }
        // header and bytes in one send: one yamux frame a block, not two (each frame costs a
        // noise message, a socket write here and a window update with its own write from the peer)
        send = stream.send(new Uint8ArrayList(...encodeBlock(cid, bytes)) as unknown as StreamBytes)
      }
      if (!send) {
        await stream.onDrain({ signal })
        touch()
      }
      // send() can report room while the muxer holds far more than its window (seen: 100+ MiB
      // queued in yamux's write buffer with a zero send window): bound what is queued ourselves
      while (stream.writeBufferLength > init.maxQueued) {
        await queueShrinks(stream, signal)
        touch()
      }
    }
    stream.send(encodeSignal(FRAME_END))
    await stream.close({ signal })
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err))
    log('serving a transfer to %s ended - %e', init.peer, failure)
    stream.abort(failure)
  } finally {
    reader.stop()
    if (timer != null) clearTimeout(timer)
    stream.removeEventListener('close', onClose)
    // reads ahead of a cancelled or failed request: settled (their files closed) before the slot is free
    await Promise.allSettled(stack.flatMap(p => p.read != null ? [p.read] : []))
    if (started) init.onServe?.({ type: 'end', id, cancelled, ...(failure != null ? { error: failure } : {}) })
  }
}
