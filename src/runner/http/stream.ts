/**
 * Turns a content iterable into a Readable for a reply, after pulling the
 * first chunk: a failure before any byte (not found, timeout, bad CID) still
 * becomes a proper JSON error response instead of a truncated 200.
 */
import { Readable } from 'node:stream'
import { prependTo } from '../../util/iterators.js'

export async function readableAfterFirstChunk (source: AsyncIterable<Uint8Array>): Promise<Readable> {
  const it = source[Symbol.asyncIterator]()
  const first = await it.next()
  // the client going away or the reply destroyed closes the iterator: the producer stops
  return Readable.from(prependTo(first.done === true ? [] : [first.value], it), { objectMode: false, highWaterMark: 1 })
}
