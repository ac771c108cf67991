/**
 * Receive window of a transfer stream. Yamux starts every stream with a 256 KiB
 * window (the spec's value, which Kubo peers assume) and grows it only when the
 * reader keeps up within 4 round trips; on loopback the measured RTT is ~0 ms,
 * so the window barely grows and the sender idles waiting for window updates.
 * The receiver may grant more at any time with a window update (legal for any
 * yamux peer): a transfer stream grants its maximum window up front.
 *
 * When to grant it again is the receiver's choice too. js-yamux sends a window
 * update after every data frame it receives (one per block of a transfer: a
 * yamux frame, a noise message, an XSalsa20 pass and a socket write here, a
 * socket read, a decryption and a muxer event on the sender), while go-yamux
 * waits until half the window is used. A transfer stream does what go-yamux
 * does: the update goes out once at least half the window is consumed, so the
 * sender always has half a window left to send (the wire format is unchanged).
 */
import { logger } from '@libp2p/logger'
import type { Stream } from '@libp2p/interface'

const log = logger('otherthing-storage:transfer:window')

/** js-yamux's `StreamState` values of a stream whose window updates carry no flag (SYNSent, Established). */
const NO_FLAG_STATES = new Set([1, 3])

interface YamuxLikeStream {
  recvWindow: number
  recvWindowCapacity: number
  maxStreamWindowSize: number
  state: number
  sendWindowUpdate: () => void
}

function isYamuxLike (s: any): s is YamuxLikeStream {
  return typeof s?.recvWindow === 'number' && typeof s?.recvWindowCapacity === 'number' &&
    typeof s?.maxStreamWindowSize === 'number' && typeof s?.state === 'number' && typeof s?.sendWindowUpdate === 'function'
}

/** Marks a stream whose window updates are already batched. */
const batched = new WeakSet<object>()

/**
 * Window updates of `stream` only once half its receive window is used (or when yamux has a
 * flag to send, or the stream is not established: those go out as yamux decides).
 */
function batchWindowUpdates (stream: YamuxLikeStream): void {
  if (batched.has(stream)) return
  batched.add(stream)
  const update = stream.sendWindowUpdate.bind(stream)
  stream.sendWindowUpdate = () => {
    if (NO_FLAG_STATES.has(stream.state) && stream.recvWindowCapacity > stream.recvWindow / 2) return
    update()
  }
}

/**
 * Grants the peer a receive window of `size` bytes (default: the stream's maximum) now (no-op on
 * other muxers), and from then on grants it again once half of it is used. Returns the window
 * granted. A smaller window bounds what a slow peer has in flight, which a cancel cannot take
 * back (under a bandwidth limit it waits in the sender's buffers).
 */
export function openReceiveWindow (stream: Stream, size?: number): number | undefined {
  if (!isYamuxLike(stream)) return undefined
  const target = Math.min(stream.maxStreamWindowSize, size ?? stream.maxStreamWindowSize)
  if (stream.recvWindow < target) {
    stream.recvWindow = target
    try { stream.sendWindowUpdate() } catch (err) { log('window update on a closing stream - %e', err) }
  }
  batchWindowUpdates(stream)
  return stream.recvWindow
}
