import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { inspect } from 'node:util'
import { InvalidSwarmKeyError } from '../errors.js'

/** Length of a libp2p pnet pre-shared key in bytes. */
export const SWARM_KEY_LENGTH = 32

/** First line of Kubo's `swarm.key` file (the pnet v1 codec). */
export const SWARM_KEY_HEADER = '/key/swarm/psk/1.0.0/'

/** Encodings Kubo's `swarm.key` file may use for the key. */
export type SwarmKeyEncoding = 'base16' | 'base64' | 'bin'

const ENCODINGS: Record<string, SwarmKeyEncoding> = {
  '/base16/': 'base16',
  '/base64/': 'base64',
  '/bin/': 'bin'
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/

/**
 * A parsed workspace swarm key. It never shows the key when printed, logged or
 * serialised: `String(key)`, `JSON.stringify(key)` and `console.log(key)` give
 * only the fingerprint. Read `bytes` or `hex` on purpose when you need the key.
 */
export class SwarmKey {
  readonly #bytes: Uint8Array

  /** @internal use {@link parseSwarmKey} */
  constructor (bytes: Uint8Array) {
    if (bytes.byteLength !== SWARM_KEY_LENGTH) {
      throw new InvalidSwarmKeyError(`Swarm key must be ${SWARM_KEY_LENGTH} bytes, got ${bytes.byteLength}`)
    }
    this.#bytes = Uint8Array.from(bytes)
  }

  /** The 32 raw key bytes (a copy). */
  get bytes (): Uint8Array {
    return Uint8Array.from(this.#bytes)
  }

  /** The key as 64 lowercase hex characters (the orchestrator's format). */
  get hex (): string {
    return Buffer.from(this.#bytes).toString('hex')
  }

  /**
   * A short identifier that is safe to log: the first 16 hex characters of a
   * domain-separated SHA-256 of the key. It cannot be turned back into the key.
   */
  get fingerprint (): string {
    return createHash('sha256').update('otherthing-storage/swarm-key-fingerprint/v1\0').update(this.#bytes).digest('hex').slice(0, 16)
  }

  /** Constant-time comparison with another key. */
  equals (other: SwarmKey): boolean {
    return timingSafeEqual(this.#bytes, other.#bytes)
  }

  toString (): string {
    return `SwarmKey(${this.fingerprint})`
  }

  toJSON (): string {
    return this.toString()
  }

  [inspect.custom] (): string {
    return this.toString()
  }
}

/**
 * Generates a new swarm key from a CSPRNG, as 64 lowercase hex characters
 * (the format the orchestrator stores and sends in `workspace_joined`).
 *
 * @example
 * ```ts
 * const hex = generateSwarmKey() // 'a1b2c3...' (64 chars)
 * ```
 */
export function generateSwarmKey (): string {
  return randomBytes(SWARM_KEY_LENGTH).toString('hex')
}

/**
 * Parses a swarm key given as 64 hex characters, as the text or bytes of
 * Kubo's `swarm.key` file (`/key/swarm/psk/1.0.0/`, then `/base16/`,
 * `/base64/` or `/bin/`, then the key; any line endings, trailing white
 * space), or as the 32 raw key bytes (a `Uint8Array` of length 32).
 *
 * @throws {InvalidSwarmKeyError} for anything else; the message never echoes the key
 */
export function parseSwarmKey (input: string | Uint8Array | SwarmKey): SwarmKey {
  if (input instanceof SwarmKey) {
    return input
  }
  if (input instanceof Uint8Array) {
    if (input.byteLength === SWARM_KEY_LENGTH) {
      return new SwarmKey(input)
    }
    return parseBytes(input)
  }
  if (typeof input !== 'string') {
    throw new InvalidSwarmKeyError('Swarm key must be a string or a Uint8Array')
  }
  // strings are parsed as latin1 bytes so that a `/bin/` key read as 'latin1' survives
  for (let i = 0; i < input.length; i++) {
    if (input.charCodeAt(i) > 0xff) {
      throw new InvalidSwarmKeyError('Swarm key text contains characters outside latin1')
    }
  }
  return parseBytes(Buffer.from(input, 'latin1'))
}

function parseBytes (input: Uint8Array): SwarmKey {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  const text = buf.toString('latin1')
  if (text.trim() === '') {
    throw new InvalidSwarmKeyError('Swarm key is empty')
  }
  if (!text.startsWith('/')) {
    const trimmed = text.trim()
    if (HEX_KEY.test(trimmed)) {
      return new SwarmKey(Buffer.from(trimmed, 'hex'))
    }
    if (/^[0-9a-fA-F]+$/.test(trimmed)) {
      throw new InvalidSwarmKeyError(`Swarm key must be 64 hex characters, got ${trimmed.length}`)
    }
    throw new InvalidSwarmKeyError('Swarm key is neither 64 hex characters nor a swarm.key file')
  }

  const [header, afterHeader] = readLine(buf, 0)
  if (header !== SWARM_KEY_HEADER) {
    throw new InvalidSwarmKeyError(`Unknown swarm key header, expected ${SWARM_KEY_HEADER}`)
  }
  if (afterHeader < 0) {
    throw new InvalidSwarmKeyError('Swarm key file ends after its header')
  }
  const [encodingLine, afterEncoding] = readLine(buf, afterHeader)
  const encoding = ENCODINGS[encodingLine.trim()]
  if (encoding == null) {
    throw new InvalidSwarmKeyError('Unknown swarm key encoding, expected /base16/, /base64/ or /bin/')
  }
  if (afterEncoding < 0) {
    throw new InvalidSwarmKeyError('Swarm key file has no key after its encoding line')
  }
  const rest = buf.subarray(afterEncoding)

  if (encoding === 'bin') {
    if (rest.byteLength < SWARM_KEY_LENGTH) {
      throw new InvalidSwarmKeyError(`Binary swarm key must be ${SWARM_KEY_LENGTH} bytes, got ${rest.byteLength}`)
    }
    if (rest.subarray(SWARM_KEY_LENGTH).toString('latin1').trim() !== '') {
      throw new InvalidSwarmKeyError('Binary swarm key is followed by unexpected bytes')
    }
    return new SwarmKey(rest.subarray(0, SWARM_KEY_LENGTH))
  }

  const body = rest.toString('latin1').trim()
  if (encoding === 'base16') {
    if (!HEX_KEY.test(body)) {
      throw new InvalidSwarmKeyError('Base16 swarm key must be exactly 64 hex characters')
    }
    return new SwarmKey(Buffer.from(body, 'hex'))
  }
  if (!BASE64_KEY.test(body)) {
    throw new InvalidSwarmKeyError('Base64 swarm key must be 44 characters of standard base64 encoding 32 bytes')
  }
  return new SwarmKey(Buffer.from(body, 'base64'))
}

/** Reads one line starting at `start`; returns it (without \r\n, \n or \r) and where the next starts (-1 at the end). */
function readLine (buf: Buffer, start: number): [string, number] {
  for (let i = start; i < buf.byteLength; i++) {
    const c = buf[i]
    if (c === 0x0a) {
      return [buf.toString('latin1', start, i), i + 1]
    }
    if (c === 0x0d) {
      return [buf.toString('latin1', start, i), buf[i + 1] === 0x0a ? i + 2 : i + 1]
    }
  }
  return [buf.toString('latin1', start), -1]
}

/**
 * Writes a key as Kubo's `swarm.key` file. The `base16` form is exactly what
 * Kubo and `@libp2p/pnet` read: 95 bytes, no trailing newline. `bin` returns
 * bytes, the other encodings text.
 */
export function formatSwarmKey (key: SwarmKey | string | Uint8Array, encoding?: 'base16' | 'base64'): string
export function formatSwarmKey (key: SwarmKey | string | Uint8Array, encoding: 'bin'): Uint8Array
export function formatSwarmKey (key: SwarmKey | string | Uint8Array, encoding: SwarmKeyEncoding = 'base16'): string | Uint8Array {
  const parsed = parseSwarmKey(key)
  switch (encoding) {
    case 'base16':
      return `${SWARM_KEY_HEADER}\n/base16/\n${parsed.hex}`
    case 'base64':
      return `${SWARM_KEY_HEADER}\n/base64/\n${Buffer.from(parsed.bytes).toString('base64')}`
    case 'bin':
      return Buffer.concat([Buffer.from(`${SWARM_KEY_HEADER}\n/bin/\n`, 'latin1'), parsed.bytes])
    default:
      throw new InvalidSwarmKeyError('Unknown swarm key encoding, expected base16, base64 or bin')
  }
}

/**
 * The bytes to hand to `@libp2p/pnet`'s `preSharedKey({ psk })`: the 95-byte
 * base16 `swarm.key` text. Kept in memory only.
 */
export function swarmKeyToPsk (key: SwarmKey | string | Uint8Array): Uint8Array {
  return new TextEncoder().encode(formatSwarmKey(key, 'base16'))
}
