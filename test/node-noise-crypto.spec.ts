/**
 * Noise's ChaCha20-Poly1305 through libsodium (noise-crypto.ts) against noise's own default:
 * the same ciphertext and tag for one buffer and for a list of chunks, each opens what the other
 * sealed, opening in place into noise's `dst` (a view of the ciphertext, or its copy), and a
 * forged message is refused, never decrypted (libsodium zeroes the output instead).
 */
import { randomBytes } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { noiseCrypto } from '../src/node/noise-crypto.js'

const bytes = (x: Uint8Array | { subarray: () => Uint8Array }): Buffer => Buffer.from(x instanceof Uint8Array ? x : x.subarray())

describe('noise crypto (libsodium ChaCha20-Poly1305)', () => {
  const ours = noiseCrypto()
  const k = randomBytes(32)
  const nonce = randomBytes(12)
  const ad = randomBytes(32)

  it('is not noise\'s default where sodium-native loads, and is without it', () => {
    expect(ours).not.toBe(defaultCrypto)
    expect(noiseCrypto(false)).toBe(defaultCrypto)
  })

  it('seals as noise\'s default does, for one buffer and for several chunks', () => {
    for (const size of [0, 1, 15, 1199, 1200, 65519]) {
      const m = randomBytes(size)
      const sealed = bytes(ours.chaCha20Poly1305Encrypt(m, nonce, ad, k))
      expect(sealed.byteLength).toBe(size + 16)
      expect(Buffer.compare(sealed, bytes(defaultCrypto.chaCha20Poly1305Encrypt(m, nonce, ad, k)))).toBe(0)
      const list = new Uint8ArrayList(m.subarray(0, size >> 1), m.subarray(size >> 1))
      expect(Buffer.compare(bytes(ours.chaCha20Poly1305Encrypt(list, nonce, ad, k)), sealed)).toBe(0)
      expect(Buffer.compare(bytes(ours.chaCha20Poly1305Encrypt(new Uint8ArrayList(m), nonce, ad, k)), sealed)).toBe(0)
    }
  })

  it('opens what noise\'s default sealed, in place into dst, from a buffer or a list', () => {
    const m = randomBytes(65519)
    const sealed = bytes(defaultCrypto.chaCha20Poly1305Encrypt(m, nonce, ad, k))
    // as noise does for a message in one buffer: dst views the ciphertext
    const copy = Buffer.from(sealed)
    const dst = copy.subarray(0, m.byteLength)
    const opened = ours.chaCha20Poly1305Decrypt(copy, nonce, ad, k, dst)
    expect(opened).toBe(dst)
    expect(Buffer.compare(bytes(opened), m)).toBe(0)
    // a message spanning reads: a list, and dst a copy of its ciphertext
    const list = new Uint8ArrayList(sealed.subarray(0, 1000), sealed.subarray(1000, sealed.byteLength - 7), sealed.subarray(sealed.byteLength - 7))
    const listDst = list.subarray(0, m.byteLength)
    expect(Buffer.compare(bytes(ours.chaCha20Poly1305Decrypt(list, nonce, ad, k, listDst)), m)).toBe(0)
    // no dst (the handshake's messages)
    expect(Buffer.compare(bytes(ours.chaCha20Poly1305Decrypt(Buffer.from(sealed), nonce, ad, k)), m)).toBe(0)
    // and noise's default opens ours
    expect(Buffer.compare(bytes(defaultCrypto.chaCha20Poly1305Decrypt(bytes(ours.chaCha20Poly1305Encrypt(m, nonce, ad, k)), nonce, ad, k)), m)).toBe(0)
  })

  it('refuses a forged message without decrypting it', () => {
    const m = randomBytes(4000)
    const sealed = bytes(ours.chaCha20Poly1305Encrypt(m, nonce, ad, k))
    sealed[10] ^= 1
    const dst = sealed.subarray(0, m.byteLength)
    expect(() => ours.chaCha20Poly1305Decrypt(sealed, nonce, ad, k, dst)).toThrow()
    expect(dst.every(b => b === 0)).toBe(true)
    expect(() => ours.chaCha20Poly1305Decrypt(bytes(ours.chaCha20Poly1305Encrypt(m, nonce, ad, k)), nonce, randomBytes(32), k)).toThrow()
    expect(() => ours.chaCha20Poly1305Decrypt(new Uint8Array(15), nonce, ad, k)).toThrow()
  })
})
