/**
 * Questions asked of any blockstore (one without a block directory to `stat`), for the quota
 * store's slow paths.
 */
import { logger } from '@libp2p/logger'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing:blockstore:quota')

/** Whether `store` holds the block; an error (after a failed write) is logged and read as absent. */
export async function hasOrFalse (store: Pick<Blockstore, 'has'>, cid: CID): Promise<boolean> {
  try {
    return await store.has(cid)
  } catch (err) {
    log('has %c after a failed write: %e', cid, err)
    return false
  }
}

/** Size of a stored block by reading it through, or undefined if it is not stored. */
export async function sizeByReading (store: Pick<Blockstore, 'get'>, cid: CID, options?: AbortOptions): Promise<number | undefined> {
  let size = 0
  try {
    for await (const chunk of store.get(cid, options)) size += chunk.byteLength
  } catch (err: any) {
    if (err.name === 'NotFoundError') return undefined
    throw err
  }
  return size
}
