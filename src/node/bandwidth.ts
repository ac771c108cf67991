/**
 * Per-workspace bandwidth limits (placeholder: limits are applied in a later step).
 */
import type { ConnectionProtector } from '@libp2p/interface'

export interface BandwidthLimits {
  /** Upload limit in bytes per second, all connections of the workspace together. @default Infinity */
  upBytesPerSecond?: number
  /** Download limit in bytes per second, all connections of the workspace together. @default Infinity */
  downBytesPerSecond?: number
}

export function throttledProtector (protector: () => ConnectionProtector, limits?: BandwidthLimits): () => ConnectionProtector {
  void limits
  return protector
}
