/**
 * `addFile`: `add` of a file on disk, read in chunks of the layout's size (no copies). When the
 * blocks go to files (the store copies them), the chunk buffers are reused once their block is
 * written: a few MiB of buffers for any file size.
 */
import { open } from 'node:fs/promises'
import { InvalidArgumentError } from '../../errors.js'
import { throwIfAborted } from '../abort.js'
import { createChunkPool } from '../import/headroom.js'
import { layoutFor, readFileChunks } from '../import/index.js'
import { add } from './add.js'
import type { AddComponents } from './add.js'
import type { AddOptions, AddResult } from '../types.js'

export async function addFile (components: AddComponents, path: string, options: AddOptions = {}): Promise<AddResult> {
  throwIfAborted(options.signal)
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    throw new InvalidArgumentError(`Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  try {
    const { chunkSize } = layoutFor(options)
    // Helia's blockstore over ours: nothing between keeps the bytes of a put
    const pool = components.store.copiesBytes ? createChunkPool(chunkSize) : undefined
    const chunks = readFileChunks(handle, chunkSize, { signal: options.signal, pool })
    return await add(components, chunks, { name: options.name ?? path.split(/[\\/]/).pop(), ...options }, { release: pool?.release })
  } finally {
    await handle.close()
  }
}
