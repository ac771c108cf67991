/** `addFile`: `add` of a file on disk, read in chunks of the layout's size (no copies). */
import { open } from 'node:fs/promises'
import { InvalidArgumentError } from '../../errors.js'
import { throwIfAborted } from '../abort.js'
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
    const chunks = readFileChunks(handle, layoutFor(options).chunkSize, options)
    return await add(components, chunks, { name: options.name ?? path.split(/[\\/]/).pop(), ...options })
  } finally {
    await handle.close()
  }
}
