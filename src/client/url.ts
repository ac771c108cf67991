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
