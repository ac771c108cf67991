/**
 * Swarm keys at rest: AES-256-GCM under a key-encryption key (KEK) that lives
 * outside the database (an env variable, a file, or the init option). A stored
 * value is `otk1:<kek id>:<iv>:<ciphertext+tag>` (base64url), the workspace id
 * is the additional data (a value cannot be moved to another row), and the
 * KEK id (8 hex of the KEK's SHA-256) tells "wrong KEK" from "corrupt row".
 * A value without the prefix is a plain key written before encryption was on.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { KeyEncryptionKeyError } from '../../errors.js'

/** Env variable holding the KEK (64 hex characters, or base64 of 32 bytes). */
export const KEK_ENV = 'OTHERTHING_KEK'
/** Env variable naming a file that holds the KEK. */
export const KEK_FILE_ENV = 'OTHERTHING_KEK_FILE'

const PREFIX = 'otk1:'

/** A parsed key-encryption key. */
export interface KeyEncryptionKey {
  /** 32 bytes. */
  readonly key: Uint8Array
  /** First 8 hex characters of its SHA-256 (safe to log and store). */
  readonly id: string
}

/** Parses a KEK given as 32 bytes, 64 hex characters or base64(url) of 32 bytes. */
export function parseKeyEncryptionKey (value: string | Uint8Array): KeyEncryptionKey {
  let key: Uint8Array | undefined
  if (typeof value !== 'string') {
    key = value
  } else {
    const text = value.trim()
    if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex')
    else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64')
  }
  if (key?.byteLength !== 32) throw new KeyEncryptionKeyError('The key-encryption key must be 32 bytes: 64 hex characters or base64')
  return { key: Uint8Array.from(key), id: createHash('sha256').update(key).digest('hex').slice(0, 8) }
}

export interface KeyEncryptionKeySource {
  /** The KEK itself (64 hex, base64 of 32 bytes, or the bytes). */
  keyEncryptionKey?: string | Uint8Array
  /** A file holding the KEK (text as above, or exactly 32 raw bytes). */
  keyEncryptionKeyFile?: string
  /** Where to look for `OTHERTHING_KEK` / `OTHERTHING_KEK_FILE`. @default process.env */
  env?: Record<string, string | undefined>
}

/**
 * The KEK from the init option, the file option, `OTHERTHING_KEK` or
 * `OTHERTHING_KEK_FILE`, in that order; `undefined` when none is set.
 *
 * @example
 * ```ts
 * const kek = resolveKeyEncryptionKey({ keyEncryptionKeyFile: '/run/secrets/otherthing-kek' })
 * ```
 */
export function resolveKeyEncryptionKey (source: KeyEncryptionKeySource = {}): KeyEncryptionKey | undefined {
  const env = source.env ?? process.env
  if (source.keyEncryptionKey != null) return parseKeyEncryptionKey(source.keyEncryptionKey)
  const file = source.keyEncryptionKeyFile ?? env[KEK_FILE_ENV]
  if (file != null && file !== '') {
    let bytes: Buffer
    try {
      bytes = readFileSync(file)
    } catch (err) {
      throw new KeyEncryptionKeyError(`Cannot read the key-encryption key file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })
    }
    return parseKeyEncryptionKey(bytes.byteLength === 32 ? bytes : bytes.toString('utf8'))
  }
  const text = env[KEK_ENV]
  if (text != null && text !== '') return parseKeyEncryptionKey(text)
  return undefined
}

/** Whether a stored value is an encrypted key. */
export function isEncryptedKey (stored: string): boolean {
  return stored.startsWith(PREFIX)
}

/** The KEK id an encrypted value was made with. */
export function encryptedKeyId (stored: string): string {
  return stored.slice(PREFIX.length).split(':')[0]
}

/** Encrypts a swarm key for the row of `workspaceId`. */
export function encryptSwarmKey (kek: KeyEncryptionKey, workspaceId: string, swarmKey: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', kek.key, iv)
  cipher.setAAD(Buffer.from(workspaceId, 'utf8'))
  const body = Buffer.concat([cipher.update(swarmKey, 'utf8'), cipher.final(), cipher.getAuthTag()])
  return `${PREFIX}${kek.id}:${iv.toString('base64url')}:${body.toString('base64url')}`
}

/**
 * The plain swarm key of a stored value (plain values pass through).
 *
 * @throws {KeyEncryptionKeyError} encrypted and no KEK, another KEK, or tampered
 */
export function decryptSwarmKey (kek: KeyEncryptionKey | undefined, workspaceId: string, stored: string): string {
  if (!isEncryptedKey(stored)) return stored
  if (kek == null) throw new KeyEncryptionKeyError('The database holds encrypted swarm keys: give the key-encryption key (OTHERTHING_KEK, OTHERTHING_KEK_FILE or keyEncryptionKey)')
  const [id, iv, body] = stored.slice(PREFIX.length).split(':')
  if (id !== kek.id) throw new KeyEncryptionKeyError(`The swarm keys are encrypted with key-encryption key ${id}, not the given ${kek.id}`)
  try {
    const data = Buffer.from(body, 'base64url')
    const decipher = createDecipheriv('aes-256-gcm', kek.key, Buffer.from(iv, 'base64url'))
    decipher.setAAD(Buffer.from(workspaceId, 'utf8'))
    decipher.setAuthTag(data.subarray(data.byteLength - 16))
    return Buffer.concat([decipher.update(data.subarray(0, data.byteLength - 16)), decipher.final()]).toString('utf8')
  } catch (err) {
    throw new KeyEncryptionKeyError(`The swarm key of workspace ${workspaceId.slice(0, 80)} does not decrypt (tampered row?)`, { cause: err })
  }
}
