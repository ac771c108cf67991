/**
 * Writes a byte stream to a new file with backpressure. Each chunk goes to its own offset
 * (positioned writes), so a few writes run at once on libuv's pool while the next chunks are
 * produced (read ahead by the exporter); at most `maxInFlight` chunks are held by writes in
 * progress, so memory stays flat.
 */
import fs from 'node:fs'
import { awaitedLater } from '../../util/promise.js'
import type { AbortOptions } from '@libp2p/interface'

export interface WriteFileOptions extends AbortOptions {
  /** Called after each chunk is written with the bytes written so far (in order). */
  onProgress?: (bytes: number) => void
  /** `open()` flags. @default 'wx' (the file must not exist) */
  flags?: string
  /** Writes in progress at once. @default 8 */
  maxInFlight?: number
}

/** A callback `fs` call as a promise. */
export function fsCall<T> (fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((err, value) => { if (err != null) reject(err); else resolve(value) })
  })
}

/** Writes all of `chunk` at `position` of `fd` (positioned writes). */
export async function writeAt (fd: number, chunk: Uint8Array, position: number): Promise<void> {
  let off = 0
  while (off < chunk.byteLength) {
    off += await fsCall<number>(cb => { fs.write(fd, chunk, off, chunk.byteLength - off, position + off, cb) })
  }
}

/**
 * Writes `source` to `path`; returns the bytes written. The source must not reuse a chunk's
 * memory after yielding it (the exporters here never do): a chunk is written while the next
 * ones are produced. The file is left as is on error (the caller removes it).
 */
export async function writeToFile (source: AsyncIterable<Uint8Array>, path: string, options: WriteFileOptions = {}): Promise<number> {
  options.signal?.throwIfAborted()
  const maxInFlight = Math.max(1, options.maxInFlight ?? 8)
  const fd = await fsCall<number>(cb => { fs.open(path, options.flags ?? 'wx', 0o666, cb) })
  // writes in progress, oldest first, each with the offset its chunk ends at
  const inFlight: Array<{ done: Promise<void>, end: number }> = []
  const oldest = async (): Promise<void> => {
    const w = inFlight.shift() as { done: Promise<void>, end: number }
    await w.done
    options.onProgress?.(w.end)
  }
  let total = 0
  try {
    for await (const chunk of source) {
      options.signal?.throwIfAborted()
      if (chunk.byteLength === 0) continue
      const done = writeAt(fd, chunk, total)
      awaitedLater(done) // awaited in order by oldest()
      total += chunk.byteLength
      inFlight.push({ done, end: total })
      if (inFlight.length >= maxInFlight) await oldest()
    }
    while (inFlight.length > 0) await oldest()
    options.signal?.throwIfAborted()
    return total
  } finally {
    await Promise.allSettled(inFlight.map(w => w.done))
    await fsCall<void>(cb => { fs.close(fd, (err) => { cb(err, undefined) }) })
  }
}
