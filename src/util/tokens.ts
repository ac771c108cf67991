/**
 * Bearer tokens: generation, storage (only a SHA-256 is kept) and
 * constant-time comparison. Used by the orchestrator (node and admin
 * tokens), the dashboard (member tokens) and the node runner's HTTP API.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export interface GenerateTokenOptions {
  /** Text put before the random part, so a token is recognisable in a config file. @default 'ot_' */
  prefix?: string
}

/**
 * A new random token: `prefix` + 32 random bytes in base64url (43 characters).
 *
 * @example
 * ```ts
 * generateToken()                // 'ot_3q2-…'
 * generateToken({ prefix: '' })  // '3q2-…'
 * ```
 */
export function generateToken (options: GenerateTokenOptions = {}): string {
  return `${options.prefix ?? 'ot_'}${randomBytes(32).toString('base64url')}`
}

/** SHA-256 of a token: what a database keeps instead of the token. */
export function hashToken (token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/** Constant-time check of `token` against a hash from {@link hashToken}. */
export function tokenMatches (token: string, hash: Uint8Array): boolean {
  const candidate = hashToken(token)
  return candidate.byteLength === hash.byteLength && timingSafeEqual(candidate, hash)
}

/**
 * Compares two tokens in constant time. Both are hashed first, so neither
 * their content nor their lengths leak through timing.
 */
export function tokensEqual (given: string, expected: string): boolean {
  return tokenMatches(given, hashToken(expected))
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any. */
export function bearerToken (authorization: string | undefined): string | undefined {
  if (typeof authorization !== 'string') return undefined
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization)
  return m?.[1]
}
