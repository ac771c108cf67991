/**
 * Small received frames come from a pool of buffers that the consumer hands back (`recycle`):
 * a frame after a recycled one of its length is assembled into the same memory, the frame's bytes
 * are exact, and a frame still held is never handed out twice.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createFrameReader } from '../src/node/transfer/frame-reader.js'
import type { Stream } from '@libp2p/interface'

/** The side of a libp2p stream a frame reader listens to: 'message' events, pause/resume. */
class InboundStream extends EventTarget {
  readableEnded = false
  readBufferLength = 0
  pause (): void {}
  resume (): void {}
  push (bytes: Uint8Array): void {
    this.dispatchEvent(Object.assign(new Event('message'), { data: bytes }))
  }
}

function frame (body: Uint8Array): Uint8Array {
  const len: number[] = []
  let n = body.byteLength
  while (n >= 0x80) { len.push((n & 0x7f) | 0x80); n >>>= 7 }
  len.push(n)
  return Buffer.concat([Uint8Array.from(len), body])
}

describe('frame reader: small frames from a pool', () => {
  it('a recycled buffer is reused for the next frame of its length, never while held', async () => {
    const stream = new InboundStream()
    const reader = createFrameReader(stream as unknown as Stream, { maxFrameLength: 1 << 20, highWaterMark: 1 << 20 })
    try {
      const bodies = [randomBytes(4136), randomBytes(4136), randomBytes(4136), randomBytes(4100)]
      stream.push(frame(bodies[0]))
      stream.push(frame(bodies[1]))
      const a = await reader.next() as Uint8Array
      const b = await reader.next() as Uint8Array
      expect(Buffer.from(a).equals(bodies[0])).toBe(true)
      expect(Buffer.from(b).equals(bodies[1])).toBe(true)
      // both held: two buffers of their own
      expect(a.buffer).not.toBe(b.buffer)
      expect(a.buffer.byteLength).toBe(4136)
      reader.release(a.byteLength)
      reader.recycle(a.buffer as ArrayBuffer)
      stream.push(frame(bodies[2]))
      const c = await reader.next() as Uint8Array
      expect(c.buffer).toBe(a.buffer)
      expect(c.byteLength).toBe(4136)
      expect(Buffer.from(c).equals(bodies[2])).toBe(true)
      expect(Buffer.from(b).equals(bodies[1])).toBe(true)
      // another length: memory of its own, exactly its length
      reader.release(c.byteLength)
      reader.recycle(c.buffer as ArrayBuffer)
      stream.push(frame(bodies[3]))
      const d = await reader.next() as Uint8Array
      expect(d.buffer).not.toBe(a.buffer)
      expect([d.byteOffset, d.byteLength, d.buffer.byteLength]).toEqual([0, 4100, 4100])
      expect(Buffer.from(d).equals(bodies[3])).toBe(true)
    } finally {
      reader.stop()
    }
  })
})
