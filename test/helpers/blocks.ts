/** Small helpers shared by the blockstore tests. */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

export interface Block { cid: CID, bytes: Uint8Array }

/** A block of `size` random bytes with its raw CIDv1. */
export async function randomBlock (size: number): Promise<Block> {
  const bytes = randomBytes(size)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

export async function randomBlocks (count: number, size: number): Promise<Block[]> {
  return Promise.all(Array.from({ length: count }, async () => randomBlock(size)))
}

/**
 * Yields `bytes` in chunks of `chunkSize`. With `interleave`, waits a macrotask before each
 * chunk so parallel writers interleave; `pulled.count` counts the chunks taken.
 */
export async function * chunked (bytes: Uint8Array, chunkSize: number, options: { interleave?: boolean, pulled?: { count: number } } = {}): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += chunkSize) {
    if (options.interleave === true) await new Promise(resolve => setImmediate(resolve))
    if (options.pulled != null) options.pulled.count++
    yield bytes.subarray(i, i + chunkSize)
  }
}

/** The error `p` rejects with; throws when it resolves. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- callers read whatever fields the error has (code, used, limit...)
export async function rejection (p: Promise<unknown>): Promise<any> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

/** Names of every regular file below `dir`. */
export async function filesUnder (dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile()).map(e => e.name)
}
