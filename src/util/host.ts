/**
 * One answer to "does this host name or address stay on this machine?", for
 * the orchestrator (warn when it listens in clear text beyond loopback) and
 * its client (refuse plain ws:// to another machine).
 */
import { isIP } from 'node:net'

/** Whether `hostname` (a URL host, IPv6 possibly in brackets, or a listen address) names this machine. */
export function isLoopbackHost (hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '')
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h)
  return false
}
