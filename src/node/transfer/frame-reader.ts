/**
 * Reads length-prefixed frames from a libp2p stream with backpressure: bytes
 * received but not yet released by the consumer are counted, and above
 * `highWaterMark` the stream is paused (yamux then stops granting send
 * window, so the sender stops) until the consumer releases them. The
 * consumer must release every frame it got once done with it: a paused
 * reader waits for that, whatever `next()` asks. Each frame is a buffer of
 * its own (its `ArrayBuffer` holds nothing else).
 */
import { logger } from '@libp2p/logger'
import { InvalidMessageError } from '../../errors.js'
import type { Stream } from '@libp2p/interface'

const log = logger('otherthing-storage:transfer:reader')

/** Frames at least this long are reused (`recycle`); smaller ones are cheap to allocate. */
const MIN_RECYCLED = 64 * 1024
/** Bytes of recycled frames kept per reader at most. */
const MAX_RECYCLED_BYTES = 4 * 1024 * 1024

/** Longest frame length varint accepted (as frames.ts reads them). */
const MAX_VARINT_BYTES = 8

export interface FrameReaderInit {
  /** Largest accepted frame body in bytes. */
  maxFrameLength: number
  /** Pause the stream above this many unreleased bytes. */
  highWaterMark: number
  /** Called whenever bytes arrive (progress timers). */
  onActivity?: () => void
}

export interface FrameReader {
  /** The next frame body, or `null` when the remote closed its side. */
  next(): Promise<Uint8Array | null>
  /** The consumer is done with `bytes` bytes of frames it got from `next()`. */
  release(bytes: number): void
  /**
   * The consumer hands back the memory of a frame it got from `next()` and no longer uses (nor
   * does anything it gave it to): a later frame of the same length may be assembled into it.
   * Large blocks of one DAG have one length (a 256 KiB or 1 MiB leaf): reused, they are not
   * garbage whose external memory makes V8 collect again and again.
   */
  recycle(buffer: ArrayBuffer): void
  /** Fail the reader: `next()` throws `err` from now on (a waiting `next()` at once). */
  abort(err: Error): void
  /** Stop listening to the stream. */
  stop(): void
}

class DefaultFrameReader implements FrameReader {
  private readonly stream: Stream
  private readonly init: FrameReaderInit
  private readonly frames: Uint8Array[] = []
  /** the frame being received, and how many of its bytes are in */
  private cur?: Uint8Array
  private filled = 0
  /** the length varint being read */
  private lenValue = 0
  private lenBytes = 0
  /** bytes received and not released */
  private held = 0
  /** buffers handed back, all of one frame length (the last one recycled) */
  private spare: ArrayBuffer[] = []
  private spareLength = 0
  private paused = false
  private ended = false
  private error?: Error
  private wake?: () => void

  constructor (stream: Stream, init: FrameReaderInit) {
    this.stream = stream
    this.init = init
    stream.addEventListener('message', this.onMessage as any)
    stream.addEventListener('end', this.onEnd)
    stream.addEventListener('close', this.onClose as any)
    if (stream.readableEnded) this.ended = true
  }

  private readonly onMessage = (evt: { data: Uint8Array | Iterable<Uint8Array> & { byteLength: number } }): void => {
    this.init.onActivity?.()
    this.held += evt.data.byteLength
    try {
      if (evt.data instanceof Uint8Array) this.feed(evt.data)
      else for (const chunk of evt.data) this.feed(chunk)
    } catch (err) {
      this.fail(err as Error)
      return
    }
    if (this.held > this.init.highWaterMark && !this.paused) {
      this.paused = true
      try { this.stream.pause() } catch (err) { log('pausing a closed stream - %e', err) }
    }
    this.notify()
  }

  private readonly onEnd = (): void => {
    this.ended = true
    this.notify()
  }

  private readonly onClose = (evt: Event & { error?: Error }): void => {
    if (evt.error != null) this.fail(evt.error)
    else if (this.stream.readBufferLength === 0) this.onEnd()
  }

  abort (err: Error): void {
    this.fail(err)
  }

  private fail (err: Error): void {
    if (this.error == null) this.error = err
    this.notify()
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /**
   * Frames are assembled straight into a buffer of their own, allocated once the length is
   * known (one copy from the socket's chunks, no list of chunks concatenated later): every
   * frame owns its whole `ArrayBuffer`, so a consumer may transfer it to a worker.
   */
  private feed (chunk: Uint8Array): void {
    let o = 0
    while (o < chunk.byteLength) {
      const cur = this.cur
      if (cur != null) {
        const n = Math.min(cur.byteLength - this.filled, chunk.byteLength - o)
        cur.set(n === chunk.byteLength && o === 0 ? chunk : chunk.subarray(o, o + n), this.filled)
        this.filled += n
        o += n
        if (this.filled === cur.byteLength) {
          this.frames.push(cur)
          this.cur = undefined
        }
        continue
      }
      // the length varint, a byte at a time (it may span chunks)
      const b = chunk[o++]
      this.held--
      this.lenValue += (b & 0x7f) * 2 ** (7 * this.lenBytes)
      this.lenBytes++
      if ((b & 0x80) !== 0) {
        if (this.lenBytes >= MAX_VARINT_BYTES) throw new InvalidMessageError('Frame length varint too long')
        continue
      }
      const len = this.lenValue
      this.lenValue = 0
      this.lenBytes = 0
      if (len > this.init.maxFrameLength) throw new InvalidMessageError(`Frame of ${len} bytes is larger than ${this.init.maxFrameLength}`)
      // not from the shared pool: the frame's memory is its own (or a recycled frame's of this length)
      const reused = len === this.spareLength ? this.spare.pop() : undefined
      const frame = new Uint8Array(reused ?? Buffer.allocUnsafeSlow(len).buffer, 0, len)
      if (len === 0) this.frames.push(frame)
      else {
        this.cur = frame
        this.filled = 0
      }
    }
  }

  /** `true` while a frame (or its length) is partly received. */
  private get partial (): boolean {
    return this.cur != null || this.lenBytes > 0
  }

  async next (): Promise<Uint8Array | null> {
    while (true) {
      const frame = this.frames.shift()
      if (frame != null) return frame
      if (this.error != null) throw this.error
      if (this.ended) {
        if (this.partial) throw new InvalidMessageError('Stream ended inside a frame')
        return null
      }
      // paused, the reader waits for the consumer to release (release() resumes): resuming here
      // whenever no frame was parsed let a consumer that is behind (writes in flight) take
      // without bound, the fetcher's RSS growing with the transfer
      if (this.paused && this.held <= this.init.highWaterMark / 2) {
        // resuming hands over what the stream buffered while paused, synchronously: look at the
        // frames again before waiting (waiting first lost the last frames of a transfer until
        // something else woke the reader, seen as a 48 s stall at the end of a pin)
        this.resume()
        continue
      }
      await new Promise<void>(resolve => { this.wake = resolve })
    }
  }

  release (bytes: number): void {
    this.held -= bytes
    if (this.paused && this.held <= this.init.highWaterMark / 2) this.resume()
  }

  recycle (buffer: ArrayBuffer): void {
    const len = buffer.byteLength
    if (len < MIN_RECYCLED || len > MAX_RECYCLED_BYTES) return
    if (len !== this.spareLength) {
      this.spare = []
      this.spareLength = len
    }
    if ((this.spare.length + 1) * len <= MAX_RECYCLED_BYTES) this.spare.push(buffer)
  }

  private resume (): void {
    this.paused = false
    try { this.stream.resume() } catch (err) { log('resuming a closed stream - %e', err) }
  }

  stop (): void {
    this.stream.removeEventListener('message', this.onMessage as any)
    this.stream.removeEventListener('end', this.onEnd)
    this.stream.removeEventListener('close', this.onClose as any)
    this.spare = []
    this.notify()
  }
}

export function createFrameReader (stream: Stream, init: FrameReaderInit): FrameReader {
  return new DefaultFrameReader(stream, init)
}
