/**
 * `get`: a file written through a temp file + rename (nothing half-written is left). The
 * leaves are read, checked against their CIDs and written at their offsets on the leaf
 * workers (export/leaf-worker.ts); the inactivity timeout restarts whenever bytes are written.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { throwIfAborted } from '../abort.js'
import { toCid, translateError } from '../cid.js'
import { withFile } from './cat.js'
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
  const written = withFile(components, cid, { signal: options.signal, timeout: options.timeout }, async function * (file, op) {
    yield await file.writeTo(temp, {
      signal: op.signal,
      onProgress: (bytes) => {
        op.touch()
        options.onProgress?.({ bytes })
      }
    })
  })
  try {
    for await (const _ of written) { /* one value: the bytes written */ }
    await rename(temp, target)
    return target
  } catch (err) {
    await rm(temp, { force: true }).catch((rmErr) => { components.log.error('could not remove %s: %e', temp, rmErr) })
    throw translateError(err, undefined, options.signal)
  }
}
