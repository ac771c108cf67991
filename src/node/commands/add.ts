/**
 * `add`: imports a stream as a UnixFS file (the same CIDs as ipfs-unixfs-importer; Kubo's for
 * the 'kubo' profile) and pins it. All or nothing: a refused write, an abort or a source that
 * errors mid-way leaves nothing pinned and nothing counted (write session rollback).
 */
import { InvalidArgumentError } from '../../errors.js'
import { throwIfAborted } from '../abort.js'
import { translateError } from '../cid.js'
import { freshLeaves, importFile, layoutFor } from '../import/index.js'
import { pinDag } from '../pins/pin-dag.js'
import { inWriteSession } from './session.js'
import type { QuotaBlockstore } from '../../blockstore/types.js'
import type { WorkspaceComponents } from '../components.js'
import type { AddOptions, AddResult, AddSource } from '../types.js'

/** The quota store's fresh-write side, when `store` is a QuotaBlockstore over block files. */
function freshWriter (store: unknown): Pick<QuotaBlockstore, 'freshTarget' | 'putFresh'> | undefined {
  const s = store as Partial<QuotaBlockstore> | null
  return typeof s?.putFresh === 'function' && typeof s.freshTarget === 'function' ? s as QuotaBlockstore : undefined
}

export type AddComponents = Pick<WorkspaceComponents, 'blockstore' | 'store' | 'pins' | 'getCodec' | 'quota' | 'log'>

async function * toChunks (source: AddSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source
    return
  }
  for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
    if (typeof chunk === 'string') yield Buffer.from(chunk)
    else yield chunk
  }
}

export function assertPositiveInt (value: number | undefined, name: string): void {
  if (value != null && (!Number.isSafeInteger(value) || value <= 0)) {
    throw new InvalidArgumentError(`${name} must be a positive integer`)
  }
}

export function validateAddOptions (options: AddOptions): void {
  assertPositiveInt(options.chunkSize, 'chunkSize')
  assertPositiveInt(options.maxChildrenPerNode, 'maxChildrenPerNode')
  if (options.profile != null && options.profile !== 'kubo' && options.profile !== 'cidv1') {
    throw new InvalidArgumentError(`Unknown profile ${String(options.profile)}`)
  }
}

/** What `addFile` adds to `add`: leaf buffers handed back for reuse (see ImportFileOptions.release). */
export interface AddInternals {
  release?: (bytes: Uint8Array) => void
}

export async function add (components: AddComponents, source: AddSource, options: AddOptions = {}, internals: AddInternals = {}): Promise<AddResult> {
  throwIfAborted(options.signal)
  validateAddOptions(options)
  try {
    const result = await inWriteSession(components, async (session) => {
      let bytes = 0
      const counted = async function * (): AsyncGenerator<Uint8Array> {
        for await (const chunk of toChunks(source)) {
          throwIfAborted(options.signal)
          bytes += chunk.byteLength
          options.onProgress?.({ bytes })
          yield chunk
        }
      }
      // new content nobody can be waiting for: straight to the local store, not through Helia's
      // blockstore (its has() before each put, its lock, the bitswap notification)
      const blockstore = components.store
      const quota = freshWriter(blockstore.child)
      // leaves hashed and written on the hash workers where the store allows it
      // (import/fresh-leaves.ts), one writing worker per core (import/hash.ts): on 2 cores one
      // worker doing hash + file calls was the bottleneck (docs/performance.md 2026-12-03), two
      // beat the main thread's writes where a core is free (2026-12-04)
      const putLeaf = quota != null ? freshLeaves({ quota, blockstore, recordWritten: (cid) => { session.recordWritten(cid) } }) : undefined
      // chunks hashed in the thread pool, bounded writes in flight (import/)
      const file = await importFile(counted(), blockstore, { layout: layoutFor(options), signal: options.signal, release: internals.release, putLeaf })
      if (options.pin !== false) {
        // the importer knows the tree's height: the leaves are recorded without being read back
        await pinDag(components, file.cid, { size: bytes, name: options.name, signal: options.signal, descend: (_, depth) => depth < file.height })
      }
      return { cid: file.cid, size: bytes }
    })
    components.quota?.afterWrite()
    return result
  } catch (err) {
    throw translateError(err, undefined, options.signal)
  }
}
