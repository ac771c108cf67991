/**
 * The pnet keystream used by every workspace connection: the WASM XSalsa20
 * (fed at most 64 KiB at a time) gives exactly the bytes of the pure-JS one
 * (@noble/ciphers) whatever the chunking, including pieces larger than 64 KiB
 * and not multiples of the 64-byte block.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createKeyStream, XSalsa20Stream } from '../src/node/pnet.js'

describe('pnet keystream', () => {
  it('WASM and pure-JS XSalsa20 give the same bytes for any chunking', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(24)
    const fast = createKeyStream(nonce, key)
    const js = new XSalsa20Stream(nonce, key)
    const data = randomBytes(4 * 1024 * 1024 + 17)
    const sizes = [1, 63, 64, 65, 1000, 65535, 65536, 65537, 200_001, 1024 * 1024 + 3]
    let i = 0
    for (let o = 0; o < data.byteLength; i++) {
      const n = Math.min(data.byteLength - o, sizes[i % sizes.length])
      const piece = data.subarray(o, o + n)
      const a = fast.update(piece)
      const b = js.update(piece)
      expect(a.byteLength).toBe(n)
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true)
      o += n
    }
    fast.destroy()
    // a destroyed stream's slot is reused by the next one, which starts its own keystream
    const again = createKeyStream(nonce, key)
    expect(Buffer.from(again.update(data.subarray(0, 1000))).equals(Buffer.from(new XSalsa20Stream(nonce, key).update(data.subarray(0, 1000))))).toBe(true)
    again.destroy()
  })
})

describe('pnet keystream in place', () => {
  it('updateOwned gives the same bytes as update', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(24)
    const a = createKeyStream(nonce, key)
    const b = new XSalsa20Stream(nonce, key)
    for (const n of [5, 65536, 70_000, 64, 1]) {
      const data = randomBytes(n)
      const expected = Buffer.from(b.update(data))
      expect(Buffer.from(a.updateOwned(Buffer.from(data))).equals(expected)).toBe(true)
    }
    a.destroy()
  })
})
