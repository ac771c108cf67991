/**
 * Leaves hashed and written in one trip to a hash worker (import/hash.ts), straight into the
 * workspace's block directory: the main thread then only settles the quota and records the
 * block in the write session, instead of five file calls and Helia's layers per leaf. The
 * quota store reserves the bytes before the worker writes and counts the block only when the
 * worker's `link` created its file (QuotaBlockstore.putFresh); anything else (a block that was
 * there, a refused reservation, an fs error, a delete that overlapped) goes through the
 * store's `put` as before, which checks under the block's lock.
 */
import { hashAndWriteBlock, hashBlock, hashedOnWorker } from './hash.js'
import type { EncodedBlock } from './layout.js'
import type { QuotaBlockstore } from '../../blockstore/types.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

export interface FreshLeavesInit {
  /** The workspace's quota store (the store the worker writes into). */
  quota: Pick<QuotaBlockstore, 'freshTarget' | 'putFresh'>
  /** Where a leaf goes the usual way (the write session's blockstore). */
  blockstore: Pick<Blockstore, 'put'>
  /** Tells the write session a block was newly stored by this import. */
  recordWritten: (cid: CID) => void
}

export type PutLeaf = (block: EncodedBlock, options: AbortOptions) => Promise<{ cid: CID, bytes: Uint8Array }>

/** A `putLeaf` for importFile (see ImportFileOptions.putLeaf). */
export function freshLeaves (init: FreshLeavesInit): PutLeaf {
  const { quota, blockstore, recordWritten } = init
  return async (block, options) => {
    const size = block.bytes.byteLength
    if (!hashedOnWorker(size) || quota.freshTarget(size) == null) {
      const hashed = await hashBlock(block)
      await blockstore.put(hashed.cid, hashed.bytes, options)
      return hashed
    }
    const { result, stored, retry } = await quota.putFresh(size, async (target) => target != null ? hashAndWriteBlock(block, target) : hashBlock(block), options)
    if (stored) recordWritten(result.cid)
    if (retry) await blockstore.put(result.cid, result.bytes, options)
    return { cid: result.cid, bytes: result.bytes }
  }
}
