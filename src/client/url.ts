/**
 * The orchestrator URL: swarm keys and the node token travel over it, so a
 * plain `ws://` connection is refused unless it stays on this machine or the
 * caller opts in with `allowInsecure`.
 */
import { isLoopbackHost } from '../util/host.js'
import { InsecureConnectionError, InvalidConfigError } from '../errors.js'

export { isLoopbackHost }

/**
 * @throws {InvalidConfigError} for a URL that is not ws(s):// or http(s)://
 * @throws {InsecureConnectionError} for plain ws:// or http:// to a host that is not loopback, unless `allowInsecure`
 */
export function assertSecureUrl (url: string, allowInsecure = false): URL {
  if (typeof url !== 'string' || !URL.canParse(url)) throw new InvalidConfigError('The orchestrator URL is not a URL')
  const parsed = new URL(url)
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(parsed.protocol)) {
    throw new InvalidConfigError(`The orchestrator URL must be ws://, wss://, http:// or https://, not ${parsed.protocol}//`)
  }
  const plain = parsed.protocol === 'ws:' || parsed.protocol === 'http:'
  if (plain && !allowInsecure && !isLoopbackHost(parsed.hostname)) {
    throw new InsecureConnectionError(`Refusing plain ${parsed.protocol}// to ${parsed.host}: swarm keys and the node token would cross the network unencrypted. Use wss://, or allowInsecure: true (CLI: --allow-insecure) on a network you trust`)
  }
  return parsed
}

/** The URL without credentials nor query, safe to log. */
export function displayUrl (url: string): string {
  if (!URL.canParse(url)) return '(invalid URL)'
  const u = new URL(url)
  return `${u.protocol}//${u.host}${u.pathname}`
}

/**
 * The orchestrator URLs of a client, in the order they are tried: a list, or
 * one string (comma-separated for several instances of one orchestrator).
 * Each is checked as by {@link assertSecureUrl}.
 *
 * @throws {InvalidConfigError} no URL, or one that is not ws(s):// or http(s)://
 * @throws {InsecureConnectionError} as {@link assertSecureUrl}
 */
export function orchestratorUrls (url: string | readonly string[], allowInsecure = false): string[] {
  const list = (typeof url === 'string' ? url.split(',') : [...url]).map(u => typeof u === 'string' ? u.trim() : u).filter(u => u !== '')
  if (list.length === 0) throw new InvalidConfigError('No orchestrator URL given')
  if (list.length > 64) throw new InvalidConfigError('At most 64 orchestrator URLs')
  for (const u of list) assertSecureUrl(u, allowInsecure)
  return list
}
