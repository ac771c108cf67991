/**
 * Pinning and unpinning a DAG whose blocks are local: the pin records are written for each
 * unique block (`walkLocalDag`), so a block that repeats in the DAG is counted once per pin.
 * Used by add, pin and unpin (and by the folder and CAR imports of issue #12).
 */
import { walkLocalDag } from '../dag.js'
import { BlockSet } from '../blocks/block-set.js'
import { CidList } from '../blocks/cid-list.js'
import type { WorkspaceComponents } from '../components.js'
import type { PinMetadata, PinWalk } from './pin-store.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type PinDagComponents = Pick<WorkspaceComponents, 'store' | 'pins' | 'getCodec'>

export interface PinDagOptions extends AbortOptions {
  /** Content size recorded with the pin (bytes). */
  size: number
  /** A name recorded with the pin. */
  name?: string
  /**
   * Whether the block at `depth` must be read for its links. An importer that knows its
   * tree's height answers false for the leaves, which are then recorded without being read.
   * @default always (raw blocks are never read)
   */
  descend?: (cid: CID, depth: number) => boolean
  /**
   * Every block of the DAG, when the caller knows them (a folder or CAR import): recorded
   * without reading any block back. Duplicates and the root may be included.
   * @default read from the DAG
   */
  blocks?: Iterable<CID>
}

/**
 * The walk over a known set of blocks: the root, then each other block once. A BlockSet is
 * (or a unique CidList) is already unique: only the root is skipped; anything else is deduplicated in a packed set.
 */
export function knownBlocksWalk (root: CID, blocks: Iterable<CID>, options: AbortOptions = {}): PinWalk {
  return async (record) => {
    const unique = blocks instanceof BlockSet || (blocks instanceof CidList && blocks.unique)
    const seen = new BlockSet({ capacity: unique ? 16 : undefined })
    seen.add(root)
    await record(root)
    for (const cid of blocks) {
      options.signal?.throwIfAborted()
      if (unique ? seen.has(cid) : !seen.add(cid)) continue
      await record(cid)
    }
  }
}

/** The walk over the unique local blocks of `root` that the pin store records. */
export function localDagWalk (components: Pick<WorkspaceComponents, 'store' | 'getCodec'>, root: CID, options: AbortOptions & { descend?: (cid: CID, depth: number) => boolean } = {}): PinWalk {
  return async (record) => {
    await walkLocalDag(root, components.store, components.getCodec, async (cid) => { await record(cid) }, { signal: options.signal, descend: options.descend })
  }
}

/** Pins `cid` (all its blocks must be local). Already pinned: only the name is updated. */
export async function pinDag (components: PinDagComponents, cid: CID, options: PinDagOptions): Promise<void> {
  const existing = await components.pins.get(cid, options)
  if (existing != null) {
    if (options.name != null && existing.metadata.name !== options.name) {
      await components.pins.setMetadata(cid, { ...existing.metadata, name: options.name }, options)
    }
    return
  }
  const metadata: PinMetadata = { cid: cid.toString(), size: options.size }
  if (options.name != null) metadata.name = options.name
  const walk = options.blocks != null ? knownBlocksWalk(cid, options.blocks, options) : localDagWalk(components, cid, options)
  await components.pins.add(cid, walk, { signal: options.signal, metadata })
}
