/**
 * Pinning the root of something this node has just imported (a folder, a
 * CAR's roots): one pin for the whole DAG. When the import knows every
 * block of the DAG, the walk yields them without reading any block back.
 */
import { logger } from '@libp2p/logger'
import type { ContentComponents } from '../blocks/components.js'
import type { AbortOptions } from '../types.js'
import type { GraphNode, GraphWalkerFactory } from '@helia/interface'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing-storage:pin-root')

export interface PinRootOptions extends AbortOptions {
  /** Content bytes, recorded with the pin (PinInfo.size). */
  size: number
  name?: string
  /** Every block of the DAG (the root included), each once; read from the DAG when absent. */
  blocks?: Iterable<CID>
}

/** A walker over a known set of blocks (no reads). */
function knownBlocksWalker (blocks: Iterable<CID>): GraphWalkerFactory {
  return () => ({
    async * walk (root: CID, options: AbortOptions = {}): AsyncGenerator<GraphNode<any>> {
      yield { block: { cid: root } as any, depth: 0, path: [root] }
      for (const cid of blocks) {
        options.signal?.throwIfAborted()
        if (cid.multihash.bytes.length === root.multihash.bytes.length && Buffer.compare(cid.multihash.bytes, root.multihash.bytes) === 0) continue
        yield { block: { cid } as any, depth: 1, path: [root, cid] }
      }
    }
  })
}

/** Pins `root` (or updates its name when already pinned). Resolves `true` when this call added the pin. */
export async function pinRoot (components: Pick<ContentComponents, 'pins'>, root: CID, options: PinRootOptions): Promise<boolean> {
  const { pins } = components
  let existing
  try {
    existing = await pins.get(root, options)
  } catch (err: any) {
    if (err?.name !== 'NotFoundError') throw err
  }
  if (existing != null) {
    if (options.name != null && existing.metadata.name !== options.name) {
      await pins.setMetadata(root, { ...existing.metadata, name: options.name }, options)
    }
    return false
  }
  const metadata: Record<string, string | number> = { cid: root.toString(), size: options.size }
  if (options.name != null) metadata.name = options.name
  const walker = options.blocks != null ? knownBlocksWalker(options.blocks) : undefined
  for await (const _ of pins.add(root, { signal: options.signal, metadata, ...(walker != null ? { walker } : {}) })) { /* walk */ }
  return true
}

/** Removes pins this operation added before it failed (errors logged, not thrown). */
export async function unpinAll (components: Pick<ContentComponents, 'pins'>, roots: CID[]): Promise<void> {
  for (const root of roots.splice(0)) {
    try {
      for await (const _ of components.pins.rm(root)) { /* walk */ }
    } catch (err) {
      log.error('could not remove pin %c of a failed operation: %e', root, err)
    }
  }
}
