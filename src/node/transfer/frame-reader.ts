/**
 * Reads length-prefixed frames from a libp2p stream with backpressure: bytes
 * received but not yet released by the consumer are counted, and above
 * `highWaterMark` the stream is paused (yamux then stops granting send
 * window, so the sender stops) until the consumer releases them. The
 * consumer must release every frame it got once done with it: a paused
 * reader waits for that, whatever `next()` asks.
 */
import { logger } from '@libp2p/logger'
import { Uint8ArrayList } from 'uint8arraylist'
import { InvalidMessageError } from '../../errors.js'
import { readVarint } from './frames.js'
import type { Stream } from '@libp2p/interface'

const log = logger('otherthing-storage:transfer:reader')

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
  /** Stop listening to the stream. */
  stop(): void
}

class DefaultFrameReader implements FrameReader {
  private readonly stream: Stream
  private readonly init: FrameReaderInit
  private readonly buf = new Uint8ArrayList()
  private readonly frames: Uint8Array[] = []
  /** bytes received and not released */
  private held = 0
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
    // libp2p's lists are another major of uint8arraylist: copy chunk references, not the list
    if (evt.data instanceof Uint8Array) this.buf.append(evt.data)
    else for (const chunk of evt.data) this.buf.append(chunk)
    this.held += evt.data.byteLength
    try {
      this.parse()
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

  private fail (err: Error): void {
    if (this.error == null) this.error = err
    this.notify()
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  private parse (): void {
    while (this.buf.byteLength > 0) {
      const len = readVarint(this.buf, 0)
      if (len == null) return
      if (len.value > this.init.maxFrameLength) throw new InvalidMessageError(`Frame of ${len.value} bytes is larger than ${this.init.maxFrameLength}`)
      if (this.buf.byteLength < len.next + len.value) return
      // one copy into a contiguous frame, then the list lets go of the chunks
      const frame = this.buf.subarray(len.next, len.next + len.value)
      this.buf.consume(len.next + len.value)
      this.held -= len.next
      this.frames.push(frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength ? frame : frame.slice())
    }
  }

  async next (): Promise<Uint8Array | null> {
    while (true) {
      const frame = this.frames.shift()
      if (frame != null) return frame
      if (this.error != null) throw this.error
      if (this.ended) {
        if (this.buf.byteLength > 0) throw new InvalidMessageError('Stream ended inside a frame')
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

  private resume (): void {
    this.paused = false
    try { this.stream.resume() } catch (err) { log('resuming a closed stream - %e', err) }
  }

  stop (): void {
    this.stream.removeEventListener('message', this.onMessage as any)
    this.stream.removeEventListener('end', this.onEnd)
    this.stream.removeEventListener('close', this.onClose as any)
    this.notify()
  }
}

export function createFrameReader (stream: Stream, init: FrameReaderInit): FrameReader {
  return new DefaultFrameReader(stream, init)
}
