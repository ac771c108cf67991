/**
 * How a holder reads the blocks it sends: straight from their files, never through a FileHandle
 * stream. A block whose size its link gave (a leaf: dag-pb `Tsize`) is read with one `read` of
 * that size; small blocks and sized large ones go to the fs read worker (util/fs-worker.ts),
 * where the reads ahead of one turn of the event loop run back to back as synchronous calls and
 * their buffers come back transferred (no copy). On the main thread that is one message per
 * batch instead of an open, a read and a close on libuv's pool per block: on 2 shared cores each
 * of those was a trip through the pool and a wake-up of one of its threads.
 */
import { fsWorker } from '../../util/fs-worker.js'
import type { BlockLayout } from '../../blockstore/block-layout.js'
import type { CID } from 'multiformats/cid'

/** Reads a local block, `undefined` when its file is not there. */
export type ReadBlock = (cid: CID, expectedSize?: number) => Promise<Uint8Array | undefined>

/** Largest sized read sent to the worker (a leaf of up to 1 MiB plus its envelope). */
const MAX_WORKER_READ = 1024 * 1024 + 1024

export function createBlockFileReader (layout: Pick<BlockLayout, 'pathOf' | 'read' | 'readBatched'>): ReadBlock {
  return async (cid, expectedSize) => {
    const worker = expectedSize != null && expectedSize <= MAX_WORKER_READ ? fsWorker('read') : undefined
    if (worker == null || expectedSize == null) return layout.readBatched(cid, { expectedSize })
    const r = await worker.readSized(layout.pathOf(cid), expectedSize)
    if (r == null || r instanceof Uint8Array) return r
    // larger than its link said: read whole
    return layout.read(cid)
  }
}
