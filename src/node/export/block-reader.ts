/**
 * Reads whole blocks for the exporter: straight from the workspace's
 * blockstore-fs files when the block is local (one `readFile`, no streams,
 * no locks), otherwise through a fallback (Helia's blockstore, which asks
 * peers over bitswap). Identity CIDs carry their bytes in the CID.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NextToLast } from 'blockstore-fs/sharding'
import type { AbortOptions } from '../types.js'
import type { ShardingStrategy } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'

const IDENTITY = 0x00

export interface BlockReader {
  /** The block's bytes. */
  get(cid: CID, options?: AbortOptions): Promise<Uint8Array>
}

export interface LocalFirstBlockReaderInit {
  /** The blockstore-fs directory (`<repo>/blocks`). */
  blocksPath: string
  /** Gets a block that is not in `blocksPath` (e.g. from peers). */
  fallback: (cid: CID, options: AbortOptions) => Promise<Uint8Array>
  /** @default blockstore-fs's NextToLast, as FsBlockstore uses */
  shardingStrategy?: ShardingStrategy
}

export function createLocalFirstBlockReader (init: LocalFirstBlockReaderInit): BlockReader {
  const sharding = init.shardingStrategy ?? new NextToLast()
  return {
    async get (cid, options = {}) {
      options.signal?.throwIfAborted()
      if (cid.multihash.code === IDENTITY) return cid.multihash.digest
      const { dir, file } = sharding.encode(cid)
      let bytes: Uint8Array | undefined
      try {
        bytes = await readFile(join(init.blocksPath, dir, file))
      } catch {}
      return bytes ?? init.fallback(cid, options)
    }
  }
}
