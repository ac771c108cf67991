/**
 * Makes a swarm key that matches no peer visible at the default log level.
 * The workspace node counts private-network handshakes that fail on the key
 * (`node.pnet`, see `src/node/pnet-guard.ts`); the runner hands it its
 * logger's `warn` (one line per remote host and minute) and, when such a
 * failure happens while the node has no peer at all, says what it most likely
 * means: this node's key is not the workspace's (an old key after a rotation,
 * or another workspace's).
 */
import type { WorkspaceNode } from '../node/types.js'
import type { Logger } from './logger.js'

export interface WatchSwarmKeyOptions {
  /** At most one "matches no peer" warning per workspace in this interval, ms. @default 60000 */
  interval?: number
  /** @default Date.now */
  now?: () => number
}

/**
 * Reports swarm key mismatches of `node` through `logger` at warn level.
 * Returns a function that stops watching.
 */
export function watchSwarmKey (node: WorkspaceNode, logger: Logger, options: WatchSwarmKeyOptions = {}): () => void {
  const monitor = node.pnet
  if (monitor == null) return () => {}
  const interval = options.interval ?? 60_000
  const now = options.now ?? Date.now
  const fields = { workspaceId: node.workspaceId, fingerprint: node.keyFingerprint }
  monitor.warn = (message, m) => { logger.warn({ ...fields, remoteAddr: m.remoteAddr, reason: m.reason }, message) }
  let warnedAt = -Infinity
  const onMismatch = (): void => {
    if (node.peers().length > 0 || now() - warnedAt < interval) return
    warnedAt = now()
    logger.warn({ ...fields, mismatches: monitor.mismatches, handshakes: monitor.handshakes },
      'this node\'s swarm key matches no peer of the workspace: every connection fails on the key (an old key after a rotation, or another workspace\'s?)')
  }
  monitor.addEventListener('mismatch', onMismatch)
  return () => {
    monitor.removeEventListener('mismatch', onMismatch)
    monitor.warn = undefined
  }
}
