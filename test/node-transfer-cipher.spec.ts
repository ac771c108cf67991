/**
 * The pnet keystream used by every workspace connection: libsodium's streaming
 * XSalsa20 (sodium-native) gives exactly the bytes of the pure-JS one
 * (@noble/ciphers) whatever the chunking, including pieces not multiples of
 * the 64-byte block; the pure-JS fallback is what `cipher: 'js'` and
 * `OTHERTHING_PNET_CIPHER=js` select.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createKeyStream, XSalsa20Stream } from '../src/node/pnet.js'
import { resolveCipher } from '../src/node/xsalsa20.js'

describe('pnet keystream', () => {
  afterEach(() => { delete process.env.OTHERTHING_PNET_CIPHER })

  it('uses libsodium by default, pure JS when forced', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(24)
    expect(createKeyStream(nonce, key).implementation).toBe('native')
    expect(createKeyStream(nonce, key, 'native').implementation).toBe('native')
    expect(createKeyStream(nonce, key, 'js').implementation).toBe('js')
    process.env.OTHERTHING_PNET_CIPHER = 'js'
    expect(resolveCipher()).toBe('js')
    expect(createKeyStream(nonce, key).implementation).toBe('js')
  })

  it('libsodium and pure-JS XSalsa20 give the same bytes for any chunking', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(24)
    const fast = createKeyStream(nonce, key, 'native')
    const js = new XSalsa20Stream(nonce, key)
    const data = randomBytes(4 * 1024 * 1024 + 17)
    const sizes = [1, 63, 64, 65, 1000, 65535, 65536, 65537, 200_001, 1024 * 1024 + 3, 0]
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
    expect(() => fast.update(data.subarray(0, 1))).toThrow()
  })

  it('updateOwned gives the same bytes as update, in place', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(24)
    const a = createKeyStream(nonce, key, 'native')
    const b = new XSalsa20Stream(nonce, key)
    for (const n of [5, 65536, 70_000, 64, 1]) {
      const data = randomBytes(n)
      const expected = Buffer.from(b.update(data))
      const owned = Buffer.from(data)
      const out = a.updateOwned(owned)
      expect(Buffer.from(out).equals(expected)).toBe(true)
      expect(out.buffer).toBe(owned.buffer)
    }
    a.destroy()
  })
})
