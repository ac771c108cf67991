/**
 * Reads whole blocks for the exporter: straight from the workspace's block files when the
 * block is local (`BlockLayout.readBatched`: small blocks in batches on the fs read worker, large
 * ones with one read on libuv's pool; no streams, no locks), otherwise
 * through a fallback (Helia's blockstore, which asks peers over bitswap). Identity CIDs carry
 * their bytes in the CID.
 */
import { logger } from '@libp2p/logger'
import { createBlockLayout } from '../../blockstore/block-layout.js'
import type { BlockLayout } from '../../blockstore/block-layout.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const IDENTITY = 0x00
const log = logger('otherthing:node:export')

export interface BlockReader {
  /** The block's bytes; `expectedSize` is what the block should weigh (a leaf's Tsize), a hint for the local read. */
  get(cid: CID, options?: AbortOptions & { expectedSize?: number }): Promise<Uint8Array>
}

export interface LocalFirstBlockReaderInit {
  /** The layout of the local block files (what reads them). */
  layout?: Pick<BlockLayout, 'readBatched'>
  /** The blockstore-fs directory (`<repo>/blocks`), when no layout is given (default sharding). */
  blocksPath?: string
  /** Gets a block that is not stored locally (e.g. from peers). */
  fallback: (cid: CID, options: AbortOptions) => Promise<Uint8Array>
}

export function createLocalFirstBlockReader (init: LocalFirstBlockReaderInit): BlockReader {
  const layout: Pick<BlockLayout, 'readBatched'> = init.layout ?? createBlockLayout({ directory: init.blocksPath ?? '.' })
  return {
    async get (cid, options = {}) {
      options.signal?.throwIfAborted()
      if (cid.multihash.code === IDENTITY) return cid.multihash.digest
      // an unreadable local file (EACCES, EMFILE...) is read through the fallback, as a missing one is
      const bytes = await layout.readBatched(cid, options).catch((err) => {
        log('local read of %c failed, using the fallback: %e', cid, err)
        return undefined
      })
      return bytes ?? init.fallback(cid, { signal: options.signal })
    }
  }
}
