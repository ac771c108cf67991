/**
 * The XSalsa20 keystreams of the private network (pnet.ts): libsodium through
 * `sodium-native` (prebuilt N-API addon, ~10x the pure-JS speed), and the
 * audited pure-JS `@noble/ciphers` XSalsa20 where the addon cannot be loaded
 * (an unsupported platform, a bundler that drops `.node` files) or when told
 * so (`cipher: 'js'`, or `OTHERTHING_PNET_CIPHER=js` in the environment).
 * Both give the same bytes for any chunking (tested against each other).
 */
import { createRequire } from 'node:module'
import { logger } from '@libp2p/logger'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import { InvalidConfigError } from '../errors.js'

const log = logger('otherthing-storage:pnet:cipher')

const NONCE_LENGTH = 24
const KEY_LENGTH = 32
const BLOCK = 64

/** Which XSalsa20 implementation to use. `auto`: libsodium when it loads, else pure JS. */
export type PnetCipher = 'auto' | 'native' | 'js'

/** An XSalsa20 keystream XOR, one per direction of a connection. */
export interface KeyStream {
  /** `'native'` (libsodium) or `'js'` (@noble/ciphers). */
  readonly implementation: 'native' | 'js'
  /** XORs `data` with the next bytes of the keystream, into a new buffer. */
  update(data: Uint8Array): Uint8Array
  /** Same as `update`, but may write into `data` (which the caller owns) instead of a new buffer. */
  updateOwned(data: Uint8Array): Uint8Array
  /** XORs `data` with the next bytes of the keystream into `out` (of the same length; may be `data`). */
  updateInto(data: Uint8Array, out: Uint8Array): void
  /** Frees what the stream holds (its state, key included, is wiped). */
  destroy(): void
}

interface Sodium {
  crypto_stream_xor_STATEBYTES: number
  crypto_stream_xor_init(state: Uint8Array, nonce: Uint8Array, key: Uint8Array): void
  crypto_stream_xor_update(state: Uint8Array, out: Uint8Array, data: Uint8Array): void
  crypto_stream_xor_final(state: Uint8Array): void
}

let sodium: Sodium | null | undefined

/** `sodium-native`, or `null` when it cannot be loaded (logged once). */
export function loadSodium (): Sodium | null {
  if (sodium !== undefined) return sodium
  sodium = null
  try {
    const s = createRequire(import.meta.url)('sodium-native') as Sodium
    if (typeof s.crypto_stream_xor_init === 'function' && s.crypto_stream_xor_STATEBYTES > 0) sodium = s
    else log.error('sodium-native has no crypto_stream_xor_init: using the pure-JS XSalsa20')
  } catch (err) {
    log.error('sodium-native cannot be loaded, using the pure-JS XSalsa20: %e', err)
  }
  return sodium
}

/** XSalsa20 through libsodium's streaming `crypto_stream_xor_*` (keeps partial blocks between calls). */
class SodiumXSalsa20Stream implements KeyStream {
  readonly implementation = 'native'
  private readonly sodium: Sodium
  private state: Uint8Array | undefined

  constructor (s: Sodium, nonce: Uint8Array, key: Uint8Array) {
    this.sodium = s
    this.state = new Uint8Array(s.crypto_stream_xor_STATEBYTES)
    s.crypto_stream_xor_init(this.state, nonce, key)
  }

  update (data: Uint8Array): Uint8Array {
    // every byte is written by the XOR: no zero-fill first
    return this.xorInto(data, Buffer.allocUnsafe(data.byteLength))
  }

  updateOwned (data: Uint8Array): Uint8Array {
    // libsodium XORs in place when input and output are the same buffer
    return this.xorInto(data, data)
  }

  updateInto (data: Uint8Array, out: Uint8Array): void {
    if (out.byteLength !== data.byteLength) throw new RangeError('XSalsa20 output of another length than its input')
    this.xorInto(data, out)
  }

  private xorInto (data: Uint8Array, out: Uint8Array): Uint8Array {
    if (this.state == null) throw new Error('XSalsa20 stream destroyed')
    if (data.byteLength > 0) this.sodium.crypto_stream_xor_update(this.state, out, data)
    return out
  }

  destroy (): void {
    if (this.state == null) return
    this.sodium.crypto_stream_xor_final(this.state)
    this.state.fill(0)
    this.state = undefined
  }
}

/** A seekable XSalsa20 keystream XOR in pure JS (any chunking gives the same stream). */
export class XSalsa20Stream implements KeyStream {
  readonly implementation = 'js'
  private readonly key: Uint8Array
  private readonly nonce: Uint8Array
  private position = 0

  constructor (nonce: Uint8Array, key: Uint8Array) {
    this.nonce = Uint8Array.from(nonce)
    this.key = Uint8Array.from(key)
  }

  update (data: Uint8Array): Uint8Array {
    // @noble/ciphers XORs a word at a time only when input and output are 4-byte aligned
    // (5x faster than its byte loop): copy the data into a fresh buffer at the offset of
    // the current keystream block, so keystream blocks start on the buffer's 64-byte
    // boundaries, and XOR in place. The first `offset` bytes are scratch.
    const offset = this.position % BLOCK
    const buf = new Uint8Array(offset + data.byteLength)
    buf.set(data, offset)
    xsalsa20(this.key, this.nonce, buf, buf, Math.floor(this.position / BLOCK))
    this.position += data.byteLength
    return buf.subarray(offset)
  }

  updateOwned (data: Uint8Array): Uint8Array {
    return this.update(data)
  }

  updateInto (data: Uint8Array, out: Uint8Array): void {
    if (out.byteLength !== data.byteLength) throw new RangeError('XSalsa20 output of another length than its input')
    out.set(this.update(data))
  }

  destroy (): void {
    this.key.fill(0)
  }
}

/**
 * Resolves `auto` (and the `OTHERTHING_PNET_CIPHER` environment variable) to what will be used.
 * @throws {InvalidConfigError} when `native` is asked for and `sodium-native` cannot be loaded
 */
export function resolveCipher (cipher: PnetCipher = 'auto'): 'native' | 'js' {
  const forced = process.env.OTHERTHING_PNET_CIPHER
  if (cipher === 'auto' && (forced === 'js' || forced === 'native')) cipher = forced
  if (cipher === 'js') return 'js'
  if (loadSodium() != null) return 'native'
  if (cipher === 'native') throw new InvalidConfigError('sodium-native cannot be loaded (cipher: native was asked for)')
  return 'js'
}

/** An XSalsa20 keystream: libsodium unless `cipher` (or the environment) says otherwise. */
export function createKeyStream (nonce: Uint8Array, key: Uint8Array, cipher: PnetCipher = 'auto'): KeyStream {
  if (nonce.byteLength !== NONCE_LENGTH || key.byteLength !== KEY_LENGTH) throw new RangeError('XSalsa20 takes a 24-byte nonce and a 32-byte key')
  const s = resolveCipher(cipher) === 'native' ? loadSodium() : null
  return s != null ? new SodiumXSalsa20Stream(s, nonce, key) : new XSalsa20Stream(nonce, key)
}
