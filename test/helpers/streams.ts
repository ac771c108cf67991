/**
 * Reading answers in tests: a byte stream into one Buffer, an async iterable
 * into an array, a tar into its entries.
 */
import { extract } from 'tar-stream'

export async function concat (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of source) chunks.push(c)
  return Buffer.concat(chunks)
}

export async function all<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of source) out.push(x)
  return out
}

/** The entries of a tar: path -> content ('' for folders, marked with a trailing /). */
export async function untar (bytes: Buffer): Promise<Map<string, string>> {
  const ex = extract()
  const out = new Map<string, string>()
  const done = (async () => {
    for await (const entry of ex) {
      const body = await concat(entry as AsyncIterable<Uint8Array>)
      out.set(entry.header.type === 'directory' ? entry.header.name.replace(/\/?$/, '/') : entry.header.name, body.toString())
    }
  })()
  ex.end(bytes)
  await done
  return out
}

/** A byte stream as UTF-8 text. */
export async function text (source: AsyncIterable<Uint8Array>): Promise<string> {
  return (await concat(source)).toString()
}
