/**
 * Dashboard logins: who a token is (admin or member of some workspaces), and
 * in-memory sessions behind an HttpOnly, SameSite=Strict cookie.
 */
import { randomBytes } from 'node:crypto'
import { hashToken, tokenMatches } from '../util/tokens.js'
import type { MemberToken } from './types.js'

export const SESSION_COOKIE = 'otd_session'

export interface Identity {
  role: 'admin' | 'member'
  /** Workspaces this identity may open; `'*'` for the admin. */
  workspaces: '*' | string[]
}

interface Session extends Identity {
  expiresAt: number
}

/** Checks a login token against the admin token and the member tokens (constant time per comparison). */
export function identify (token: string, adminToken: string, members: MemberToken[]): Identity | undefined {
  if (token === '') return undefined
  if (tokenMatches(token, hashToken(adminToken))) return { role: 'admin', workspaces: '*' }
  const workspaces = new Set<string>()
  for (const m of members) {
    if (tokenMatches(token, hashToken(m.token))) m.workspaceIds.forEach(id => workspaces.add(id))
  }
  return workspaces.size > 0 ? { role: 'member', workspaces: [...workspaces] } : undefined
}

/** Whether an identity may open a workspace. */
export function canAccess (identity: Identity, workspaceId: string): boolean {
  return identity.workspaces === '*' || identity.workspaces.includes(workspaceId)
}

export interface SessionStore {
  create(identity: Identity): string
  get(id: string | undefined): Identity | undefined
  delete(id: string | undefined): void
  clear(): void
}

/** Sessions in memory, keyed by 32 random bytes; expired ones are dropped on access. */
export function createSessionStore (ttlMs: number, now: () => number = Date.now): SessionStore {
  const sessions = new Map<string, Session>()
  const sweep = (): void => {
    const t = now()
    for (const [id, s] of sessions) if (s.expiresAt <= t) sessions.delete(id)
  }
  return {
    create (identity) {
      sweep()
      const id = randomBytes(32).toString('base64url')
      sessions.set(id, { ...identity, expiresAt: now() + ttlMs })
      return id
    },
    get (id) {
      if (id == null) return undefined
      const s = sessions.get(id)
      if (s == null) return undefined
      if (s.expiresAt <= now()) {
        sessions.delete(id)
        return undefined
      }
      return { role: s.role, workspaces: s.workspaces }
    },
    delete (id) {
      if (id != null) sessions.delete(id)
    },
    clear () { sessions.clear() }
  }
}

/** Reads one cookie from a `Cookie` header. */
export function readCookie (header: string | undefined, name: string): string | undefined {
  if (header == null) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return undefined
}

/** A `Set-Cookie` value for the session (empty value and Max-Age=0 clears it). */
export function sessionCookie (value: string, options: { path: string, maxAgeSeconds: number, secure: boolean }): string {
  const parts = [`${SESSION_COOKIE}=${encodeURIComponent(value)}`, `Path=${options.path}`, 'HttpOnly', 'SameSite=Strict', `Max-Age=${options.maxAgeSeconds}`]
  if (options.secure) parts.push('Secure')
  return parts.join('; ')
}
