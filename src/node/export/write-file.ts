/**
 * Writes a byte stream to a new file with backpressure: one write at a time,
 * the next chunks produced
 * (read ahead by the exporter) while a write is in progress.
 */
import { open } from 'node:fs/promises'
import type { AbortOptions } from '@libp2p/interface'

export interface WriteFileOptions extends AbortOptions {
  /** Called after each write with the bytes written so far. */
  onProgress?: (bytes: number) => void
  /** `open()` flags. @default 'wx' (the file must not exist) */
  flags?: string
}

/** Writes `source` to `path`; returns the bytes written. The file is left as is on error (the caller removes it). */
export async function writeToFile (source: AsyncIterable<Uint8Array>, path: string, options: WriteFileOptions = {}): Promise<number> {
  options.signal?.throwIfAborted()
  const handle = await open(path, options.flags ?? 'wx')
  let total = 0
  try {
    for await (const chunk of source) {
      options.signal?.throwIfAborted()
      let off = 0
      while (off < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, off, chunk.byteLength - off, total + off)
        off += bytesWritten
      }
      total += chunk.byteLength
      options.onProgress?.(total)
    }
    options.signal?.throwIfAborted()
    return total
  } finally {
    await handle.close()
  }
}
