/**
 * Chunk buffers with spare bytes before and after the chunk, so a dag-pb leaf can be encoded
 * around the chunk in place (no copy of the file bytes). Only buffers made here are written
 * outside their view: each has its own ArrayBuffer, registered in a WeakSet.
 *
 * A `ChunkPool` hands the same few buffers out again once their blocks are on disk: an add of
 * a large file then allocates a few MiB in all instead of one fresh buffer per chunk (fresh
 * buffers cost page faults to fill and garbage-collector work to free).
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

/**
 * Chunk buffers of one size (with headroom), reused: `release()` gives a buffer back once
 * nothing reads it any more (its block is written), and `alloc()` hands it out again.
 */
export interface ChunkPool {
  /** Bytes of each chunk. */
  readonly chunkSize: number
  /** A `chunkSize`-byte chunk (uninitialised) with HEADROOM spare bytes on each side. */
  alloc(): Uint8Array
  /**
   * Gives back the buffer under `view` (any view of a buffer from `alloc`, also after it was
   * transferred to a worker and back). The caller guarantees that nobody reads or writes that
   * memory any more. Views of other buffers are ignored.
   */
  release(view: Uint8Array): void
}

export function createChunkPool (chunkSize: number, max = 32): ChunkPool {
  const bytes = chunkSize + 2 * HEADROOM
  const free: ArrayBuffer[] = []
  const isFree = new WeakSet<ArrayBuffer>()
  return {
    chunkSize,
    alloc () {
      const ab = free.pop()
      if (ab == null) return allocChunk(chunkSize)
      isFree.delete(ab)
      withRoom.add(ab)
      return Buffer.from(ab, HEADROOM, chunkSize)
    },
    release (view) {
      const ab = view.buffer
      // a SharedArrayBuffer, a detached or foreign buffer is never pooled; nor one given back twice
      if (!(ab instanceof ArrayBuffer) || ab.byteLength !== bytes || isFree.has(ab) || free.length >= max) return
      withRoom.delete(ab)
      isFree.add(ab)
      free.push(ab)
    }
  }
}
