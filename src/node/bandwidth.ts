/**
 * Per-workspace bandwidth limits: one token bucket per direction, shared by
 * every connection of the workspace node. Bytes are always passed on; when a
 * bucket goes into debt the connection stops sending (up) or stops reading
 * its socket (down, so TCP pushes back on the sender) until the debt is
 * repaid at the configured rate.
 */

export interface BandwidthLimits {
  /** Upload limit in bytes per second, all connections of the workspace together. @default Infinity (no limit) */
  upBytesPerSecond?: number
  /** Download limit in bytes per second, all connections of the workspace together. @default Infinity (no limit) */
  downBytesPerSecond?: number
}

export interface TokenBucket {
  readonly rate: number
  /** Takes `bytes` tokens; returns how long (ms) the caller should wait before taking more (0 = go on). */
  take(bytes: number): number
}

/** A token bucket refilled at `rate` bytes/s, holding at most `burst` bytes (default: 1/4 s of traffic, at least 64 KiB). */
export function createTokenBucket (rate: number, burst = Math.max(65536, rate / 4)): TokenBucket {
  let tokens = burst
  let last = performance.now()
  return {
    rate,
    take (bytes: number): number {
      const now = performance.now()
      tokens = Math.min(burst, tokens + (now - last) * rate / 1000)
      last = now
      tokens -= bytes
      return tokens >= 0 ? 0 : Math.ceil(-tokens * 1000 / rate)
    }
  }
}

export interface Limiter {
  up?: TokenBucket
  down?: TokenBucket
}

function bucket (rate: number | undefined, name: string): TokenBucket | undefined {
  if (rate == null || rate === Infinity) return undefined
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`${name} must be a positive number of bytes per second`)
  return createTokenBucket(rate)
}

export function createLimiter (limits: BandwidthLimits = {}): Limiter {
  return {
    up: bucket(limits.upBytesPerSecond, 'upBytesPerSecond'),
    down: bucket(limits.downBytesPerSecond, 'downBytesPerSecond')
  }
}
