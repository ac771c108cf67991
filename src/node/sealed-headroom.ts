/**
 * Noise messages sealed with room for their length prefix, so the private network can encrypt
 * and send each one as it is. Noise (`@chainsafe/libp2p-noise`) hands the connection below it a
 * list of chunks per send: a 2-byte length, a sealed message, the next length, ... Our seal
 * (noise-crypto.ts) puts every transport message in a buffer with 2 free bytes before it and
 * registers it here; pnet (pnet.ts) finds a 2-byte chunk followed by such a message, writes the
 * length into the free bytes and XORs the whole in place: one buffer per message to the socket,
 * no new buffer and no copy of the bytes sent (before, pnet gathered every send into a fresh
 * buffer: a third of the holder's per-block memory, and of its garbage).
 *
 * A registered message is taken once (`take` forgets it): the in-place XOR happens at most once,
 * and only on memory our seal allocated and nobody else holds (noise does not read a message
 * after sending it; anything not registered, such as multistream-select's bytes, is copied).
 */

/** Bytes free before a sealed message: noise's uint16 length prefix. */
export const HEADROOM = 2

const registered = new WeakSet<ArrayBuffer>()

/** A buffer of `length` bytes after `HEADROOM` free bytes, registered; the message is the returned view. */
export function allocSealed (length: number): Buffer {
  const whole = Buffer.allocUnsafeSlow(HEADROOM + length)
  registered.add(whole.buffer as ArrayBuffer)
  return whole.subarray(HEADROOM)
}

/**
 * When `chunk` is a registered message (the whole of it), forgets it and returns the view of its
 * buffer from the free bytes on (`HEADROOM + chunk.byteLength` bytes); otherwise `undefined`.
 */
export function takeSealed (chunk: Uint8Array): Uint8Array | undefined {
  const buffer = chunk.buffer as ArrayBuffer
  if (chunk.byteOffset !== HEADROOM || chunk.byteLength + HEADROOM !== buffer.byteLength || !registered.has(buffer)) return undefined
  registered.delete(buffer)
  return new Uint8Array(buffer, 0, buffer.byteLength)
}
