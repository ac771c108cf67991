/**
 * Request guards of the local HTTP API: the Host and Origin checks that stop
 * DNS-rebinding and cross-site requests (as Kubo's API does), and the
 * API token (the constant-time comparison and bearer parsing are the shared
 * ones of `src/util/tokens.ts`).
 */
import { bearerToken, generateToken, tokensEqual } from '../../util/tokens.js'

const LOCAL_HOSTNAMES = new Set(['127.0.0.1', 'localhost', '::1'])

/** Splits a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`) into a lower-case hostname, or undefined when malformed. */
export function hostnameOf (host: string): string | undefined {
  const h = host.trim().toLowerCase()
  if (h === '') return undefined
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end < 0) return undefined
    const rest = h.slice(end + 1)
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined
    return h.slice(1, end)
  }
  const parts = h.split(':')
  if (parts.length > 2) return undefined
  if (parts.length === 2 && !/^\d{1,5}$/.test(parts[1])) return undefined
  return parts[0]
}

/**
 * Whether a Host header names this machine: 127.0.0.1, localhost or [::1]
 * with any port, or one of `allowedHosts` (a hostname, matched with any
 * port, or an exact `host:port`).
 */
export function isAllowedHost (host: string | undefined, allowedHosts: readonly string[] = []): boolean {
  if (host == null) return false
  const hostname = hostnameOf(host)
  if (hostname == null) return false
  if (LOCAL_HOSTNAMES.has(hostname)) return true
  const full = host.trim().toLowerCase()
  return allowedHosts.some(a => {
    const allowed = a.trim().toLowerCase()
    return allowed === full || allowed === hostname || allowed === `[${hostname}]`
  })
}

/**
 * Whether an Origin header may call the API: a local origin (any scheme and
 * port on 127.0.0.1, localhost or [::1]), an origin whose host is in
 * `allowedHosts`, or an exact entry of `allowedOrigins`. `null` and malformed
 * origins are refused.
 */
export function isAllowedOrigin (origin: string, allowedHosts: readonly string[] = [], allowedOrigins: readonly string[] = []): boolean {
  if (allowedOrigins.includes(origin)) return true
  if (!URL.canParse(origin)) return false
  const url = new URL(origin)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  return isAllowedHost(url.host, allowedHosts)
}

/** A random API token (32 bytes, base64url, no prefix). */
export function generateApiToken (): string {
  return generateToken({ prefix: '' })
}

export { tokensEqual, bearerToken }
