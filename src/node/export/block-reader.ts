/**
 * Reads whole blocks for the exporter: straight from the workspace's block files when the
 * block is local (`BlockLayout.readBatched`: small blocks in batches on the fs read worker, large
 * ones with one read on libuv's pool; no streams, no locks), otherwise
 * through a fallback (Helia's blockstore, which asks peers over bitswap). Identity CIDs carry
 * their bytes in the CID.
 *
 * A block read from its local file is hashed against its CID (SHA-256 and SHA-512, with
 * `node:crypto`; blocks of other hashes are not checked here): a file damaged on disk is a
 * `CorruptBlockError`, never wrong bytes handed on. The leaf workers (leaf-worker.ts) check
 * the leaves they read the same way.
 */
import { createHash } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { createBlockLayout } from '../../blockstore/block-layout.js'
import { CorruptBlockError } from '../../errors.js'
import type { BlockLayout } from '../../blockstore/block-layout.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const IDENTITY = 0x00
const HASHES: Record<number, string> = { 0x12: 'sha256', 0x13: 'sha512' }
const log = logger('otherthing:node:export')

export interface BlockReader {
  /** The block's bytes; `expectedSize` is what the block should weigh (a leaf's Tsize), a hint for the local read. */
  get(cid: CID, options?: AbortOptions & { expectedSize?: number }): Promise<Uint8Array>
  /**
   * The path of the block's local file, for a reader elsewhere (the leaf workers) that checks
   * what it reads and asks `get` when the file is missing or wrong. The read is recorded first
   * (`onRead`: gc protection), as `get` does. Absent when blocks do not come from local files.
   */
  localFile?: (cid: CID) => string
  /** Whether what is read from local files is to be hashed against the CID (`get` does; `localFile` readers should). @default true */
  verifies?: boolean
}

export interface LocalFirstBlockReaderInit {
  /** The layout of the local block files (what reads them; `pathOf` lets the leaf workers read them too). */
  layout?: Pick<BlockLayout, 'readBatched'> & Partial<Pick<BlockLayout, 'pathOf'>>
  /** The blockstore-fs directory (`<repo>/blocks`), when no layout is given (default sharding). */
  blocksPath?: string
  /** Called before a block is read from its local file (e.g. `WriteSession.recordRead`, so a concurrent gc keeps it). */
  onRead?: (cid: CID) => void
  /** Gets a block that is not stored locally (e.g. from peers). */
  fallback: (cid: CID, options: AbortOptions) => Promise<Uint8Array>
  /**
   * Hash the blocks read from local files against their CIDs (the node's `hashOnRead`; blocks
   * from the fallback are the fallback's business). @default true
   */
  verify?: boolean
}

/** @throws {CorruptBlockError} when `bytes` read from `cid`'s local file do not hash to it */
export function checkLocalBlock (cid: CID, bytes: Uint8Array): Uint8Array {
  const algorithm = HASHES[cid.multihash.code]
  if (algorithm == null) return bytes
  const digest = createHash(algorithm).update(bytes).digest()
  if (Buffer.compare(digest, cid.multihash.digest) !== 0) {
    throw new CorruptBlockError(`The stored block ${cid} does not match its CID (damaged on disk; verify() repairs it)`, { cid: cid.toString() })
  }
  return bytes
}

export function createLocalFirstBlockReader (init: LocalFirstBlockReaderInit): BlockReader {
  const layout = init.layout ?? createBlockLayout({ directory: init.blocksPath ?? '.' })
  const onRead = init.onRead
  const pathOf = layout.pathOf?.bind(layout)
  const verify = init.verify !== false
  return {
    verifies: verify,
    async get (cid, options = {}) {
      options.signal?.throwIfAborted()
      if (cid.multihash.code === IDENTITY) return cid.multihash.digest
      onRead?.(cid)
      // an unreadable local file (EACCES, EMFILE...) is read through the fallback, as a missing one is
      const bytes = await layout.readBatched(cid, options).catch((err) => {
        log('local read of %c failed, using the fallback: %e', cid, err)
        return undefined
      })
      if (bytes == null) return init.fallback(cid, { signal: options.signal })
      return verify ? checkLocalBlock(cid, bytes) : bytes
    },
    localFile: pathOf == null
      ? undefined
      : (cid) => {
          onRead?.(cid)
          return pathOf(cid)
        }
  }
}
