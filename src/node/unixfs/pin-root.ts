/**
 * Pinning the root of something this node has just imported (a folder, a
 * CAR's roots): one pin for the whole DAG. When the import knows every
 * block of the DAG, the walk yields them without reading any block back.
 */
import { logger } from '@libp2p/logger'
import { walkLocalDag } from '../dag.js'
import type { ContentComponents } from '../blocks/components.js'
import type { PinWalk } from '../pins/pin-store.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing-storage:pin-root')

export interface PinRootOptions extends AbortOptions {
  /** Content bytes, recorded with the pin (PinInfo.size). */
  size: number
  name?: string
  /** Every block of the DAG (the root included), each once; read from the DAG when absent. */
  blocks?: Iterable<CID>
  /**
   * `blocks` gives the same blocks in the same order each time it is iterated (a BlockSet's):
   * a failed pin is undone by iterating them again, not from a set of the blocks it recorded.
   */
  blocksRepeat?: boolean
}

/** A pin walk over a known set of blocks (no reads), or over the local DAG. */
function pinWalk (components: Pick<ContentComponents, 'local' | 'getCodec'>, root: CID, blocks: Iterable<CID> | undefined, options: AbortOptions): PinWalk {
  if (blocks == null) {
    return async (record) => { await walkLocalDag(root, components.local, components.getCodec, async (cid) => { await record(cid) }, { signal: options.signal }) }
  }
  return async (record) => {
    for (const cid of knownOrder(root, blocks)) {
      options.signal?.throwIfAborted()
      await record(cid)
    }
  }
}

/** The root, then every other block of `blocks`. */
function * knownOrder (root: CID, blocks: Iterable<CID>): Generator<CID> {
  yield root
  for (const cid of blocks) {
    if (cid.multihash.bytes.length === root.multihash.bytes.length && Buffer.compare(cid.multihash.bytes, root.multihash.bytes) === 0) continue
    yield cid
  }
}

/** A pin this operation added, with the walk that undoes it. */
export interface AddedPin { cid: CID, walk: PinWalk }

/** Pins `root` (or updates its name when already pinned). Resolves `true` when this call added the pin. */
export async function pinRoot (components: Pick<ContentComponents, 'pins' | 'local' | 'getCodec'>, root: CID, options: PinRootOptions): Promise<AddedPin | undefined> {
  const { pins } = components
  const existing = await pins.get(root, options)
  if (existing != null) {
    if (options.name != null && existing.metadata.name !== options.name) {
      await pins.setMetadata(root, { ...existing.metadata, name: options.name }, options)
    }
    return undefined
  }
  const metadata: Record<string, string | number> = { cid: root.toString(), size: options.size }
  if (options.name != null) metadata.name = options.name
  const walk = pinWalk(components, root, options.blocks, options)
  const blocks = options.blocks
  const undo = blocks != null && options.blocksRepeat === true ? { [Symbol.iterator]: () => knownOrder(root, blocks) } : undefined
  await pins.add(root, walk, { signal: options.signal, metadata, undo })
  return { cid: root, walk }
}

/** Removes pins this operation added before it failed (errors logged, not thrown). */
export async function unpinAll (components: Pick<ContentComponents, 'pins'>, added: AddedPin[]): Promise<void> {
  for (const { cid, walk } of added.splice(0)) {
    try {
      await components.pins.rm(cid, walk)
    } catch (err) {
      log.error('could not remove pin %c of a failed operation: %e', cid, err)
    }
  }
}
