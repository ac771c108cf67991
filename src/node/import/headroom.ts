/**
 * Chunk buffers with spare bytes before and after the chunk, so a dag-pb leaf can be encoded
 * around the chunk in place (no copy of the file bytes). Only buffers made here are written
 * outside their view: each has its own ArrayBuffer, registered in a WeakSet.
 */

/** Spare bytes on each side: more than a dag-pb leaf header (<= 14 bytes) or trailer (<= 11 bytes) needs. */
export const HEADROOM = 32

const withRoom = new WeakSet<ArrayBufferLike>()

/** A fresh `size`-byte chunk (uninitialised) with HEADROOM spare bytes on each side. */
export function allocChunk (size: number): Uint8Array {
  const buf = Buffer.allocUnsafeSlow(size + 2 * HEADROOM)
  withRoom.add(buf.buffer)
  return buf.subarray(HEADROOM, HEADROOM + size)
}

/** Spare bytes around `view` when it lies in a buffer from allocChunk (and nothing else uses them). */
export function roomAround (view: Uint8Array): { before: number, after: number } | undefined {
  if (!withRoom.has(view.buffer)) return undefined
  return { before: view.byteOffset, after: view.buffer.byteLength - view.byteOffset - view.byteLength }
}

/** The buffer is now a block's: no other view may be encoded into it. */
export function claim (view: Uint8Array): void {
  withRoom.delete(view.buffer)
}
