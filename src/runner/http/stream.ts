/**
 * Turns a content iterable into a Readable for a reply, after pulling the
 * first chunk: a failure before any byte (not found, timeout, bad CID) still
 * becomes a proper JSON error response instead of a truncated 200.
 */
import { Readable } from 'node:stream'

export async function readableAfterFirstChunk (source: AsyncIterable<Uint8Array>): Promise<Readable> {
  const it = source[Symbol.asyncIterator]()
  const first = await it.next()
  async function * rest (): AsyncGenerator<Uint8Array> {
    try {
      if (first.done === true) return
      yield first.value
      while (true) {
        const next = await it.next()
        if (next.done === true) return
        yield next.value
      }
    } finally {
      // the client went away or the reply was destroyed: stop the producer
      await it.return?.()
    }
  }
  return Readable.from(rest(), { objectMode: false, highWaterMark: 1 })
}
