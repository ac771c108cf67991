/**
 * The noise messages pnet encrypts in place (src/node/sealed-headroom.ts): a sealed message is
 * taken once, only as the whole of a buffer our seal allocated; anything else (another buffer, a
 * view of part of one, a pool slice) is not ours to write into; and a full-size message's memory
 * is handed out again only after its connection said the socket wrote it.
 */
import { describe, expect, it } from 'vitest'
import { allocSealed, HEADROOM, SentBuffers, takeSealed } from '../src/node/sealed-headroom.js'

const FULL = 65535

describe('sealed headroom', () => {
  it('takes a sealed message once, as its buffer from the free bytes on', () => {
    const m = allocSealed(1000)
    expect(m.byteLength).toBe(1000)
    expect(m.byteOffset).toBe(HEADROOM)
    const whole = takeSealed(m)
    expect(whole?.byteLength).toBe(1000 + HEADROOM)
    expect(whole?.buffer).toBe(m.buffer)
    expect(takeSealed(m)).toBeUndefined()
  })

  it('refuses what the seal did not allocate, or only part of it', () => {
    expect(takeSealed(new Uint8Array(new ArrayBuffer(1002), HEADROOM, 1000))).toBeUndefined()
    expect(takeSealed(Buffer.allocUnsafe(100))).toBeUndefined()
    const m = allocSealed(1000)
    expect(takeSealed(m.subarray(0, 999))).toBeUndefined()
    expect(takeSealed(m.subarray(1))).toBeUndefined()
    expect(takeSealed(m)).toBeDefined()
  })

  it('reuses a full-size message only once the socket wrote it', () => {
    const sent = new SentBuffers()
    const a = allocSealed(FULL)
    const whole = takeSealed(a) as Uint8Array
    sent.add(whole)
    // not written yet: the next seals get other memory
    const b = allocSealed(FULL)
    expect(b.buffer).not.toBe(a.buffer)
    sent.written()
    const c = allocSealed(FULL)
    expect(c.buffer).toBe(a.buffer)
    // registered again: taken once more
    expect(takeSealed(c)).toBeDefined()
    // a cleared connection's buffers never come back
    const d = allocSealed(FULL)
    sent.add(takeSealed(d) as Uint8Array)
    sent.clear()
    sent.written()
    expect(allocSealed(FULL).buffer).not.toBe(d.buffer)
  })

  it('does not pool other sizes', () => {
    const sent = new SentBuffers()
    const a = allocSealed(4000)
    sent.add(takeSealed(a) as Uint8Array)
    sent.written()
    expect(allocSealed(4000).buffer).not.toBe(a.buffer)
  })
})
