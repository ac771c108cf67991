/**
 * Streams an upload body into a workspace: the request (or multipart file)
 * stream is handed chunk by chunk to `workspace.add()`, counted on the way
 * (for progress and the optional size limit), and never held whole.
 */
import type { FastifyRequest } from 'fastify'
import { HttpError } from './errors.js'
import { throwIfAborted } from '../../util/abort.js'

export interface CountingSourceOptions {
  /** Refuse the upload with 413 once more than this many bytes have arrived. @default Infinity */
  maxBytes?: number
  /** Called after each chunk with the bytes seen so far. */
  onBytes?: (bytes: number) => void
  signal?: AbortSignal
}

/** Wraps a byte stream: yields its chunks unchanged, counts them, enforces `maxBytes`. */
export async function * countingSource (source: AsyncIterable<Uint8Array | string>, options: CountingSourceOptions = {}): AsyncGenerator<Uint8Array> {
  const maxBytes = options.maxBytes ?? Infinity
  let bytes = 0
  for await (const chunk of source) {
    throwIfAborted(options.signal)
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    bytes += buf.byteLength
    if (bytes > maxBytes) {
      throw new HttpError(413, 'ERR_PAYLOAD_TOO_LARGE', `Upload larger than the ${maxBytes}-byte limit`)
    }
    options.onBytes?.(bytes)
    yield buf
  }
}

/**
 * After a failed upload, discards whatever the client is still sending so
 * that it can read the error response instead of stalling on a full socket;
 * the connection is closed once the response is sent.
 */
export function drainRequest (request: FastifyRequest): void {
  const raw = request.raw
  if (raw.readableEnded || raw.destroyed) return
  raw.unpipe()
  raw.resume()
}
