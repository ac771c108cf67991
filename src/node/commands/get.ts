/** `get`: `cat` into a file, through a temp file + rename (nothing half-written is left). */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { throwIfAborted } from '../abort.js'
import { toCid, translateError } from '../cid.js'
import { writeToFile } from '../export/index.js'
import { cat } from './cat.js'
import type { CatComponents } from './cat.js'
import type { WorkspaceComponents } from '../components.js'
import type { GetOptions } from '../types.js'
import type { CID } from 'multiformats/cid'

export type GetComponents = CatComponents & Pick<WorkspaceComponents, 'settings' | 'log'>

export async function get (components: GetComponents, cidIn: CID | string, outputPath?: string, options: GetOptions = {}): Promise<string> {
  const cid = toCid(cidIn)
  throwIfAborted(options.signal)
  const target = outputPath ?? join(components.settings.cacheDir, cid.toString())
  await mkdir(dirname(target), { recursive: true })
  const temp = join(dirname(target), `.${cid.toString().slice(-16)}.${randomBytes(6).toString('hex')}.part`)
  const source = cat(components, cid, { signal: options.signal, timeout: options.timeout })
  try {
    await writeToFile(source, temp, { signal: options.signal, onProgress: (bytes) => { options.onProgress?.({ bytes }) } })
    await rename(temp, target)
    return target
  } catch (err) {
    await rm(temp, { force: true }).catch((rmErr) => { components.log.error('could not remove %s: %e', temp, rmErr) })
    throw translateError(err, undefined, options.signal)
  }
}
