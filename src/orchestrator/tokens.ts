/**
 * Node and admin tokens: 32 random bytes, shown once; only a SHA-256 is stored,
 * compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** A new random token (`ot_` + 43 base64url characters). */
export function generateToken (): string {
  return `ot_${randomBytes(32).toString('base64url')}`
}

/** SHA-256 of a token: what the database keeps. */
export function hashToken (token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/** Constant-time check of `token` against a stored hash. */
export function tokenMatches (token: string, hash: Uint8Array): boolean {
  const candidate = hashToken(token)
  return candidate.byteLength === hash.byteLength && timingSafeEqual(candidate, hash)
}
