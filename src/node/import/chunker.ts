/**
 * Fixed-size chunking. Same chunks as ipfs-unixfs-importer's `fixedSize`
 * chunker: every chunk is exactly `chunkSize` bytes except the last, and an
 * empty source gives one empty chunk.
 */
import { logger } from '@libp2p/logger'
import { allocChunk } from './headroom.js'
import type { ChunkPool } from './headroom.js'
import type { FileHandle } from 'node:fs/promises'
import type { AbortOptions } from '@libp2p/interface'

const log = logger('otherthing:node:import')

/**
 * Re-chunks any byte source into `chunkSize` chunks. A source piece that
 * already holds whole chunks is sliced without copying.
 */
export async function * fixedSizeChunks (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, chunkSize: number): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array | undefined
  let fill = 0
  let emitted = false
  for await (const piece of source) {
    let off = 0
    const length = piece.byteLength
    while (off < length) {
      if (fill === 0 && length - off >= chunkSize) {
        yield piece.subarray(off, off + chunkSize)
        off += chunkSize
        emitted = true
        continue
      }
      buf ??= Buffer.allocUnsafe(chunkSize)
      const n = Math.min(chunkSize - fill, length - off)
      buf.set(piece.subarray(off, off + n), fill)
      fill += n
      off += n
      if (fill === chunkSize) {
        yield buf
        buf = undefined
        fill = 0
        emitted = true
      }
    }
  }
  if (fill > 0 || !emitted) yield (buf ?? new Uint8Array(0)).subarray(0, fill)
}

/**
 * Reads an open file in `chunkSize` chunks, straight into fresh buffers (no
 * re-chunking copy, room for a leaf's header and trailer around each chunk),
 * one read ahead of the consumer. Yields nothing for an
 * empty file (`fixedSizeChunks` then adds the empty chunk). With a `pool` (of
 * `chunkSize` chunks) the buffers come from it.
 */
export async function * readFileChunks (handle: FileHandle, chunkSize: number, options: AbortOptions & { pool?: ChunkPool } = {}): AsyncGenerator<Uint8Array> {
  let position = 0
  const pool = options.pool?.chunkSize === chunkSize ? options.pool : undefined
  const readOne = async (): Promise<Uint8Array> => {
    // spare bytes around the chunk let a dag-pb leaf be encoded in place
    const buf = pool?.alloc() ?? allocChunk(chunkSize)
    let filled = 0
    while (filled < chunkSize) {
      const { bytesRead } = await handle.read(buf, filled, chunkSize - filled, position + filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    position += filled
    return filled === chunkSize ? buf : buf.subarray(0, filled)
  }
  let next = readOne()
  // the read ahead is awaited (and its error surfaced) before the generator ends
  try {
    while (true) {
      options.signal?.throwIfAborted()
      const chunk = await next
      const length = chunk.byteLength
      if (length === 0) return
      next = readOne()
      yield chunk
      if (length < chunkSize) return
    }
  } finally {
    // a read started ahead and not consumed: its error has no reader left (the consumer stopped)
    await next.catch((err) => { log('read ahead after the consumer stopped failed: %e', err) })
  }
}
