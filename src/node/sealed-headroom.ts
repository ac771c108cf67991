/**
 * Noise messages sealed with room for their length prefix, so the private network can encrypt
 * and send each one as it is, and the memory of the sent ones reused. Noise
 * (`@chainsafe/libp2p-noise`) hands the connection below it a list of chunks per send: a 2-byte
 * length, a sealed message, the next length, ... Our seal (noise-crypto.ts) puts every transport
 * message in a buffer with 2 free bytes before it and registers it here; pnet (pnet.ts) finds a
 * 2-byte chunk followed by such a message, writes the length into the free bytes and XORs the
 * whole in place: one buffer per message to the socket, no new buffer and no copy of the bytes
 * sent (before, pnet gathered every send into a fresh buffer: a third of the holder's per-block
 * memory, and of its garbage).
 *
 * A registered message is taken once (`takeSealed` forgets it): the in-place XOR happens at most
 * once, and only on memory our seal allocated and nobody else holds (noise does not read a
 * message after sending it; anything not registered, such as multistream-select's bytes, is
 * copied). Once the socket has written a full-size message (`SentBuffers.written`), its memory
 * goes back to a small pool the next seals take from: a holder then seals into the same few
 * buffers instead of a fresh 64 KiB of external memory per message, which made V8 run a full
 * collection every ~10 MiB sent.
 */

/** Bytes free before a sealed message: noise's uint16 length prefix. */
export const HEADROOM = 2

/** A full noise message (65,535 bytes with its tag) and its headroom: the size that is pooled. */
const POOLED_BYTES = HEADROOM + 65535
/** Pooled buffers kept at most (4 MiB), and sent ones a connection tracks at most. */
const MAX_POOLED = 64
const MAX_TRACKED = 128

const registered = new WeakSet<ArrayBuffer>()
const pool: ArrayBuffer[] = []

/** A buffer of `length` bytes after `HEADROOM` free bytes, registered; the message is the returned view. */
export function allocSealed (length: number): Buffer {
  const bytes = HEADROOM + length
  const buffer = (bytes === POOLED_BYTES ? pool.pop() : undefined) ?? Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer
  registered.add(buffer)
  return Buffer.from(buffer, HEADROOM, length)
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

/**
 * The taken messages one connection handed to its socket, until the socket has written them all
 * (its caller knows: nothing queued in the connection nor in the socket). Then full-size ones
 * go back to the pool.
 */
export class SentBuffers {
  private sent: ArrayBuffer[] = []

  /** `whole` (from `takeSealed`) was handed to the socket. */
  add (whole: Uint8Array): void {
    if (whole.byteLength === POOLED_BYTES && this.sent.length < MAX_TRACKED) this.sent.push(whole.buffer as ArrayBuffer)
  }

  /** Everything added so far has been written by the socket: nobody reads those buffers again. */
  written (): void {
    for (const b of this.sent) {
      if (pool.length >= MAX_POOLED) break
      pool.push(b)
    }
    this.sent = []
  }

  /** Forget the buffers (the connection closed: whatever the socket still holds is not reused). */
  clear (): void {
    this.sent = []
  }
}
