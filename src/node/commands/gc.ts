/**
 * `gc`: deletes every block that no pin holds and no operation in flight touched. Does not
 * take Helia's blockstore lock (see guarded-blockstore.ts).
 */
import { throwIfAborted } from '../abort.js'
import { getBlock } from '../dag.js'
import type { WorkspaceComponents } from '../components.js'
import type { GcResult } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type GcComponents = Pick<WorkspaceComponents, 'store' | 'pins' | 'log'>

export async function gc (components: GcComponents, options: AbortOptions = {}): Promise<GcResult> {
  throwIfAborted(options.signal)
  const { store, pins } = components
  const before = store.used
  let removed = 0
  let freedCounted = 0
  const candidates: CID[] = []
  for await (const { cid } of store.getAll({ signal: options.signal })) {
    if (store.isProtected(cid)) continue
    if (await pins.isPinned(cid, options)) continue
    candidates.push(cid)
  }
  for (const cid of candidates) {
    throwIfAborted(options.signal)
    // check again: an operation may have started using it meanwhile
    if (store.isProtected(cid) || await pins.isPinned(cid, options)) continue
    try {
      if (before == null) freedCounted += (await getBlock(store, cid)).byteLength
      await store.delete(cid, options)
      removed++
    } catch (err) {
      components.log.error('gc could not delete %c: %e', cid, err)
    }
  }
  const after = store.used
  const freedBytes = before != null && after != null ? Math.max(0, before - after) : freedCounted
  return { removed, freedBytes }
}
