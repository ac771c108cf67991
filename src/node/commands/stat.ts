/**
 * `stat`: content size, DAG size and block count, whether the DAG is complete locally and
 * pinned. The root may come from peers (unless offline); the rest is only looked at locally.
 */
import { ContentNotFoundError } from '../../errors.js'
import { operationSignal, toCid, translateError } from '../cid.js'
import { getBlock, readLinks, walkDag } from '../dag.js'
import { fileSize } from './content-size.js'
import { isPinned } from './pins.js'
import type { WorkspaceComponents } from '../components.js'
import type { StatResult } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type StatComponents = Pick<WorkspaceComponents, 'blockstore' | 'store' | 'pins' | 'getCodec' | 'log'>

export interface StatOptions extends AbortOptions {
  timeout?: number
  offline?: boolean
}

export async function stat (components: StatComponents, cidIn: CID | string, options: StatOptions = {}): Promise<StatResult> {
  const cid = toCid(cidIn)
  const { store } = components
  const op = operationSignal(options.signal, options.timeout)
  const session = store.beginWrite()
  try {
    return await session.run(async () => {
      const rootBytes = options.offline === true
        ? await getBlock(store, cid).catch((err) => {
          components.log('stat %c offline: %e', cid, err)
          throw new ContentNotFoundError(`${cid} is not stored locally`)
        })
        : await getBlock(components.blockstore, cid, { signal: op.signal })
      const size = await fileSize(cid, rootBytes, components.getCodec) ?? rootBytes.byteLength
      let dagSize = 0
      let blocks = 0
      let local = true
      // Tsize of links not stored locally, by the parent that named them
      const tsizes = new Map<string, number>()
      await walkDag(cid, async ({ cid: blockCid }) => {
        op.signal.throwIfAborted()
        if (!await store.has(blockCid)) {
          local = false
          dagSize += tsizes.get(blockCid.toString()) ?? 0
          return []
        }
        const bytes = blockCid.equals(cid) ? rootBytes : await getBlock(store, blockCid)
        blocks++
        dagSize += bytes.byteLength
        const { links } = await readLinks(blockCid, bytes, components.getCodec)
        for (const l of links) if (l.tsize != null) tsizes.set(l.cid.toString(), l.tsize)
        return links.map(l => l.cid)
      }, { signal: op.signal })
      const pinned = await isPinned(components, cid, op)
      return { cid, size, dagSize, blocks, local, pinned }
    })
  } catch (err) {
    throw translateError(err, op, options.signal)
  } finally {
    op.clear()
    session.commit()
  }
}
