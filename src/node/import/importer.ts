/**
 * Imports one file as a UnixFS DAG: chunks are read in order, encoded on the
 * main thread, hashed in worker threads and written with bounded
 * concurrency; at most `concurrency` chunks are in flight at any time, so
 * memory stays flat whatever the file size. Leaves are handed to the balanced
 * tree in file order.
 */
import { setMaxListeners } from 'node:events'
import { InvalidArgumentError } from '../../errors.js'
import { createBalancedTree } from './balanced-tree.js'
import { fixedSizeChunks } from './chunker.js'
import { blockCidSync, hashBlock } from './hash.js'
import { encodeLeaf, resolveLayout } from './layout.js'
import type { EncodedBlock, FileLayout, NodeSummary } from './layout.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import { awaitedLater } from '../../util/promise.js'
import type { CID } from 'multiformats/cid'

export interface ImportFileOptions extends AbortOptions {
  /** Chunking and DAG shape (see PROFILES). */
  layout: FileLayout
  /**
   * Chunks read, hashed or being written at once.
   *
   * @default 16 (capped to 32 MiB of chunks)
   */
  concurrency?: number
  /** Called with each chunk's byte length as it is read. */
  onChunk?: (bytes: number) => void
  /**
   * Called with a leaf's bytes once `put` resolved, for the leaves encoded in place in a chunk
   * buffer the importer took over (from `readFileChunks`): the buffer can be used again (see
   * `ChunkPool`). Only give this when the blockstore keeps no reference to the bytes it was
   * given (it copies them, e.g. to a file).
   */
  release?: (bytes: Uint8Array) => void
  /**
   * Hashes and stores one leaf, resolving its CID and the bytes to use from now on (the
   * block's view may be detached by a worker). @default hashBlock, then `blockstore.put`
   */
  putLeaf?: (block: EncodedBlock, options: AbortOptions) => Promise<{ cid: CID, bytes: Uint8Array }>
}

export interface ImportedFile {
  cid: CID
  /** File bytes. */
  size: number
  /** Bytes of all blocks of the DAG (the root's Tsize). */
  dagSize: number
  /** Levels of parents above the leaves (0: the root is the only leaf). */
  height: number
  /** Blocks written (duplicates counted once each time they occur). */
  blocks: number
}

const MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024

/**
 * Imports `source` into `blockstore`. On an error (a refused write, an abort)
 * it stops reading, waits for the writes in flight and rethrows the first error.
 */
export async function importFile (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, blockstore: Pick<Blockstore, 'put'>, options: ImportFileOptions): Promise<ImportedFile> {
  const layout = resolveLayout(options.layout)
  if (!Number.isSafeInteger(layout.chunkSize) || layout.chunkSize <= 0) throw new InvalidArgumentError('chunkSize must be a positive integer')
  if (!Number.isSafeInteger(layout.maxChildrenPerNode) || layout.maxChildrenPerNode < 2) throw new InvalidArgumentError('maxChildrenPerNode must be at least 2')
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 16, Math.floor(MAX_IN_FLIGHT_BYTES / layout.chunkSize)))
  options.signal?.throwIfAborted()

  // writes are aborted when the import fails, so none outlives it
  const controller = new AbortController()
  const onAbort = (): void => { controller.abort(options.signal?.reason) }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  // every write in flight listens to it
  setMaxListeners(Infinity, controller.signal)
  const putOptions = { signal: controller.signal }

  let blocks = 0
  let size = 0
  const tree = createBalancedTree(layout, async (block, dagSize, fileSize) => {
    const cid = blockCidSync(block)
    await blockstore.put(cid, block.bytes, putOptions)
    blocks++
    return { cid, dagSize, fileSize }
  })

  const putLeaf = options.putLeaf ?? (async (block: EncodedBlock, o: AbortOptions) => {
    const hashed = await hashBlock(block)
    await blockstore.put(hashed.cid, hashed.bytes, o)
    return hashed
  })

  const leaf = async (chunk: Uint8Array): Promise<NodeSummary> => {
    const fileSize = chunk.byteLength
    const block = encodeLeaf(chunk, layout)
    const { cid, bytes } = await putLeaf(block, putOptions)
    blocks++
    // block.bytes may be detached by now (transferred to a hash worker): use the bytes handed back
    const dagSize = bytes.byteLength
    if (block.ownsBuffer === true) options.release?.(bytes)
    return { cid, dagSize, fileSize }
  }

  const inFlight: Array<Promise<NodeSummary>> = []
  try {
    for await (const chunk of fixedSizeChunks(source, layout.chunkSize)) {
      controller.signal.throwIfAborted()
      size += chunk.byteLength
      options.onChunk?.(chunk.byteLength)
      const p = leaf(chunk)
      awaitedLater(p) // observed in order below; no unhandled rejection meanwhile
      inFlight.push(p)
      if (inFlight.length >= concurrency) await tree.push(await (inFlight.shift() as Promise<NodeSummary>))
    }
    while (inFlight.length > 0) await tree.push(await (inFlight.shift() as Promise<NodeSummary>))
    controller.signal.throwIfAborted()
    const { root, height } = await tree.finish()
    return { cid: root.cid, size, dagSize: root.dagSize, height, blocks }
  } catch (err) {
    controller.abort(err)
    await Promise.allSettled(inFlight)
    throw err
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}
