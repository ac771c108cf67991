/**
 * The pnet XSalsa20 alone on one core: libsodium (sodium-native, what the
 * node uses) against the pure-JS fallback (@noble/ciphers), fed in frames
 * of noise's size like a connection does. Informative rows, no target.
 */
import { randomBytes } from 'node:crypto'
import { createKeyStream } from '../../src/node/xsalsa20.js'
import type { PnetCipher } from '../../src/node/xsalsa20.js'

/** ms to XOR `bytes` bytes with `cipher`'s keystream in `frame`-sized pieces (in place, as socket reads are). */
export function timeXSalsa20 (cipher: Exclude<PnetCipher, 'auto'>, bytes: number, frame = 65535 - 16): number {
  const data = randomBytes(Math.max(2 * frame, Math.min(bytes, 16 * 1024 * 1024)))
  const stream = createKeyStream(randomBytes(24), randomBytes(32), cipher)
  const start = performance.now()
  for (let off = 0, done = 0; done < bytes; off = (off + frame) % (data.length - frame), done += frame) {
    stream.updateOwned(data.subarray(off, off + frame))
  }
  const ms = performance.now() - start
  stream.destroy()
  return ms
}
