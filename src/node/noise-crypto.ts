/**
 * Noise's ChaCha20-Poly1305 through libsodium (`sodium-native`, the addon pnet's XSalsa20 already
 * loads), the rest of noise's default crypto (hashing, HKDF, X25519) as it is. Passed to
 * `noise({ crypto })`, the library's own extension point.
 *
 * Why not noise's default (node:crypto) for the transport messages: per 64 KiB message it makes
 * a cipher object (`createCipheriv`, `setAAD`, `update`, `final`, `getAuthTag`), returns the
 * ciphertext and the tag as separate buffers, and decrypts into a new buffer, ignoring the `dst`
 * noise hands it to decrypt into. On the receiving side of a transfer every byte got a new buffer:
 * external memory that makes V8 collect again and again. libsodium seals a message into one
 * buffer with one call, and opens it in place (into `dst`, which holds the ciphertext's bytes:
 * the tag is checked before anything is decrypted; a forged message throws, its bytes zeroed).
 * Same AEAD (IETF ChaCha20-Poly1305, 12-byte nonce, 16-byte tag): the wire does not change
 * (tested against noise's default and against stock libp2p peers).
 *
 * A plaintext of several chunks (a yamux header, our frame header and the start of a block: the
 * first message of every block) is copied into the output buffer and sealed there in place: a
 * 64 KiB copy costs less than node:crypto's cipher object per message (noise's default, which took
 * a quarter of the holder's messages and ~1 ms/MiB of its CPU). Without the addon, noise's default
 * is used.
 */
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { allocSealed } from './sealed-headroom.js'
import { loadSodium } from './xsalsa20.js'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'

const TAG = 16

interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(c: Uint8Array, mac: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(m: Uint8Array, nsec: null, c: Uint8Array, mac: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): void
}

function sodiumAead (): SodiumAead | undefined {
  const s = loadSodium() as unknown as Partial<SodiumAead> | null
  if (typeof s?.crypto_aead_chacha20poly1305_ietf_encrypt_detached !== 'function' || typeof s.crypto_aead_chacha20poly1305_ietf_decrypt_detached !== 'function') return undefined
  return s as SodiumAead
}

/** Noise's crypto with libsodium's ChaCha20-Poly1305, or noise's default when the addon is missing (or `native` is false). */
export function noiseCrypto (native = true): ICryptoInterface {
  const s = native ? sodiumAead() : undefined
  if (s == null) return defaultCrypto
  return {
    ...defaultCrypto,
    chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
      const length = plaintext.byteLength
      // with room for noise's length prefix before it, which pnet fills (sealed-headroom.ts)
      const out = allocSealed(length + TAG)
      const c = out.subarray(0, length)
      let m = plaintext instanceof Uint8Array ? plaintext : single(plaintext)
      if (m == null) {
        // several chunks: gathered into the output, sealed in place (libsodium allows m === c)
        let o = 0
        for (const chunk of plaintext as Iterable<Uint8Array>) {
          c.set(chunk, o)
          o += chunk.byteLength
        }
        m = c
      }
      s.crypto_aead_chacha20poly1305_ietf_encrypt_detached(c, out.subarray(length), m, ad, null, nonce, k)
      return out
    },
    chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
      const length = ciphertext.byteLength - TAG
      if (length < 0) throw new Error('Invalid chacha20poly1305 ciphertext')
      const mac = ciphertext.subarray(length)
      // noise's dst holds the ciphertext's bytes (a view of them, or their copy when the message
      // spans socket reads): opened there in place; without one, the ciphertext is copied first
      let m: Uint8Array
      if (dst != null && dst.byteLength === length) {
        m = dst
      } else {
        m = Buffer.allocUnsafe(length)
        m.set(ciphertext.subarray(0, length))
      }
      s.crypto_aead_chacha20poly1305_ietf_decrypt_detached(m, null, m, mac, ad, nonce, k)
      return m
    }
  }
}

/** The one chunk of a list, or undefined when it has several. */
function single (list: Iterable<Uint8Array>): Uint8Array | undefined {
  let only: Uint8Array | undefined
  for (const chunk of list) {
    if (only != null) return undefined
    only = chunk
  }
  return only ?? new Uint8Array(0)
}
