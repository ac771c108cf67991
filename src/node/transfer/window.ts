/**
 * Receive window of a transfer stream. Yamux starts every stream with a 256 KiB
 * window (the spec's value, which Kubo peers assume) and grows it only when the
 * reader keeps up within 4 round trips; on loopback the measured RTT is ~0 ms,
 * so the window barely grows and the sender idles waiting for window updates.
 * The receiver may grant more at any time with a window update (legal for any
 * yamux peer): a transfer stream grants its maximum window up front.
 */
import { logger } from '@libp2p/logger'
import type { Stream } from '@libp2p/interface'

const log = logger('otherthing-storage:transfer:window')

interface YamuxLikeStream {
  recvWindow: number
  maxStreamWindowSize: number
  sendWindowUpdate: () => void
}

function isYamuxLike (s: any): s is YamuxLikeStream {
  return typeof s?.recvWindow === 'number' && typeof s?.maxStreamWindowSize === 'number' && typeof s?.sendWindowUpdate === 'function'
}

/**
 * Grants the peer a receive window of `size` bytes (default: the stream's maximum) now (no-op on
 * other muxers). Returns the window granted. A smaller window bounds what a slow peer has in flight,
 * which a cancel cannot take back (under a bandwidth limit it waits in the sender's buffers).
 */
export function openReceiveWindow (stream: Stream, size?: number): number | undefined {
  if (!isYamuxLike(stream)) return undefined
  const target = Math.min(stream.maxStreamWindowSize, size ?? stream.maxStreamWindowSize)
  if (stream.recvWindow < target) {
    stream.recvWindow = target
    try { stream.sendWindowUpdate() } catch (err) { log('window update on a closing stream - %e', err) }
  }
  return stream.recvWindow
}
