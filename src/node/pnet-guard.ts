/**
 * What the private network (pnet.ts) does against outsiders, and what it tells
 * the node about them:
 *
 * - `PendingSlots`: handshakes in progress per remote host. An outsider can
 *   open connections and say nothing; each holds one of libp2p's pending
 *   upgrade slots (`maxIncomingPendingConnections`) until a deadline. Capping
 *   them per host keeps one address from taking every slot (libp2p itself
 *   only rate-limits new connections per host, it does not cap pending ones).
 * - `PnetMonitor`: counts handshakes that succeeded and those that failed on
 *   the key (`SwarmKeyMismatchError`), emits a `mismatch` event for each, and
 *   warns (rate-limited, one line per remote host per interval) through the
 *   `warn` function it is given. A node whose `mismatches` grow while it has
 *   no peer holds a swarm key that matches nobody's.
 */
import { TypedEventEmitter } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('otherthing-storage:pnet')

/** What the first bytes after the nonces must decrypt to: multistream-select's header. */
export const MSS_HEADER = new Uint8Array([19, ...new TextEncoder().encode('/multistream/1.0.0\n')])

/** Why a handshake was taken for a key mismatch. */
export type MismatchReason =
  /** the first bytes after the nonces did not decrypt to a multistream header */
  | 'garbage'
  /** the peer sent a multistream header in clear: libp2p without a private network */
  | 'no-pnet'
  /** the peer closed the connection after the nonces, before a valid header */
  | 'closed'

export interface SwarmKeyMismatch {
  /** The peer's address (`/ip4/…/tcp/…`). */
  remoteAddr: string
  /** `inbound`: the peer dialed us. */
  direction: 'inbound' | 'outbound'
  reason: MismatchReason
  /** `Date.now()` when it happened. */
  at: number
}

export interface PnetMonitorEvents {
  /** A private-network handshake failed on the key. */
  mismatch: CustomEvent<SwarmKeyMismatch>
  /** A private-network handshake succeeded (the peer has our key). */
  handshake: CustomEvent<{ remoteAddr: string, direction: 'inbound' | 'outbound' }>
}

export interface PnetMonitorInit {
  /** Where mismatches from peers dialing us are reported, rate-limited. @default the `otherthing-storage:pnet` debug logger */
  warn?: (message: string, fields: SwarmKeyMismatch) => void
  /** At most one warning per remote host in this interval, ms. @default 60000 */
  warnInterval?: number
}

/** Counters and events of one node's private-network handshakes. */
export interface PnetMonitor extends TypedEventEmitter<PnetMonitorEvents> {
  /** Handshakes that failed on the key, both directions, since start. */
  readonly mismatches: number
  /** Handshakes that succeeded, both directions, since start. */
  readonly handshakes: number
  /** The last mismatch, if any. */
  readonly lastMismatch?: SwarmKeyMismatch
  /**
   * Where mismatches from peers dialing us are reported, rate-limited (settable: a workspace
   * node makes its monitor, the runner hands it its logger's warn).
   */
  warn?: (message: string, fields: SwarmKeyMismatch) => void
  /** The last outbound mismatch with `host:port` at or after `since` (ms), if any. */
  outboundMismatch(address: Multiaddr | string, since: number): SwarmKeyMismatch | undefined
}

class DefaultPnetMonitor extends TypedEventEmitter<PnetMonitorEvents> implements PnetMonitor {
  mismatches = 0
  handshakes = 0
  lastMismatch?: SwarmKeyMismatch
  warn?: PnetMonitorInit['warn']
  private readonly warnInterval: number
  private readonly warned = new Map<string, { at: number, suppressed: number }>()
  /** last outbound mismatch per host:port (bounded) */
  private readonly outbound = new Map<string, SwarmKeyMismatch>()

  constructor (init: PnetMonitorInit = {}) {
    super()
    this.warn = init.warn
    this.warnInterval = init.warnInterval ?? 60_000
  }

  recordHandshake (remoteAddr: string, direction: 'inbound' | 'outbound'): void {
    this.handshakes++
    this.safeDispatchEvent('handshake', { detail: { remoteAddr, direction } })
  }

  recordMismatch (m: SwarmKeyMismatch): void {
    this.mismatches++
    this.lastMismatch = m
    if (m.direction === 'outbound') {
      const k = hostPort(m.remoteAddr)
      this.outbound.delete(k)
      this.outbound.set(k, m)
      if (this.outbound.size > 256) this.outbound.delete(this.outbound.keys().next().value as string)
    } else {
      this.warnRateLimited(m)
    }
    this.safeDispatchEvent('mismatch', { detail: m })
  }

  private warnRateLimited (m: SwarmKeyMismatch): void {
    const host = hostOf(m.remoteAddr)
    const w = this.warned.get(host)
    if (w != null && m.at - w.at < this.warnInterval) {
      w.suppressed++
      return
    }
    const again = w != null && w.suppressed > 0 ? ` (${w.suppressed} more from this host since the last warning)` : ''
    const message = `Refused a connection from ${m.remoteAddr}: swarm key mismatch (${m.reason})${again}`
    this.warned.set(host, { at: m.at, suppressed: 0 })
    if (this.warned.size > 1024) this.warned.delete(this.warned.keys().next().value as string)
    if (this.warn != null) this.warn(message, m)
    else log(message)
  }

  outboundMismatch (address: Multiaddr | string, since: number): SwarmKeyMismatch | undefined {
    const m = this.outbound.get(hostPort(address.toString()))
    return m != null && m.at >= since ? m : undefined
  }
}

/** A monitor to hand to `privateNetwork({ monitor })` (one per node). */
export function createPnetMonitor (init?: PnetMonitorInit): PnetMonitor {
  return new DefaultPnetMonitor(init)
}

/** Records into a monitor made by `createPnetMonitor` (no-op for another implementation). */
export function recordMismatch (monitor: PnetMonitor | undefined, m: SwarmKeyMismatch): void {
  log('swarm key mismatch %s %s (%s)', m.direction, m.remoteAddr, m.reason)
  if (monitor instanceof DefaultPnetMonitor) monitor.recordMismatch(m)
}

export function recordHandshake (monitor: PnetMonitor | undefined, remoteAddr: string, direction: 'inbound' | 'outbound'): void {
  if (monitor instanceof DefaultPnetMonitor) monitor.recordHandshake(remoteAddr, direction)
}

/** `/ip4/1.2.3.4/tcp/5/p2p/…` -> `1.2.3.4` (the whole string when it has no IP). */
export function hostOf (addr: string): string {
  const parts = addr.split('/')
  return (parts[1] === 'ip4' || parts[1] === 'ip6' || parts[1] === 'dns4' || parts[1] === 'dns6' || parts[1] === 'dns') && parts[2] != null ? parts[2] : addr
}

function hostPort (addr: string): string {
  const parts = addr.split('/')
  return parts[3] === 'tcp' && parts[4] != null ? `${hostOf(addr)}:${parts[4]}` : hostOf(addr)
}

/** Handshakes in progress per remote host, capped. */
export class PendingSlots {
  private readonly max: number
  private readonly byHost = new Map<string, number>()

  constructor (maxPerHost: number) {
    this.max = maxPerHost
  }

  /** Takes a slot for `host`: a release function (idempotent), or `undefined` when the host has all its slots. */
  take (host: string): (() => void) | undefined {
    const n = this.byHost.get(host) ?? 0
    if (n >= this.max) return undefined
    this.byHost.set(host, n + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.byHost.get(host) ?? 1) - 1
      if (left <= 0) this.byHost.delete(host)
      else this.byHost.set(host, left)
    }
  }

  pending (host: string): number {
    return this.byHost.get(host) ?? 0
  }
}
