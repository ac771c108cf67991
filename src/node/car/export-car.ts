/**
 * exportCar: a CARv1 (written by @ipld/car's CarWriter) of the whole DAG under
 * a CID or path, root = the resolved node, blocks depth-first in link order
 * (as Kubo's `dag export`), each once. Streamed: the writer waits for the
 * consumer, a few blocks are read ahead; blocks missing locally are asked
 * from workspace peers.
 */
import { CarWriter } from '@ipld/car/writer'
import { setMaxListeners } from 'node:events'
import { collect, mhKey } from '../dag.js'
import { translateError } from '../cid.js'
import { blockLinks } from '../blocks/codecs.js'
import { resolvePath } from '../unixfs/resolve.js'
import type { CidOrPath, ContentComponents } from '../blocks/components.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { awaitedLater } from '../../util/promise.js'

export interface ExportCarOptions extends AbortOptions {
  /** Blocks read ahead of the writer. @default 16 */
  readAhead?: number
}

export async function * exportCar (components: Pick<ContentComponents, 'blockstore' | 'local'>, cidOrPath: CidOrPath, options: ExportCarOptions = {}): AsyncGenerator<Uint8Array> {
  const controller = new AbortController()
  setMaxListeners(Infinity, controller.signal)
  const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
  const end = components.local.beginOperation()
  try {
    const { cid: root } = await resolvePath(components, cidOrPath, { signal })
    const { writer, out } = CarWriter.create([root])
    const read = async (cid: CID): Promise<Uint8Array> => collect(components.blockstore.get(cid, { signal }) as AsyncIterable<Uint8Array>)
    const producer = (async () => {
      try {
        // depth-first pre-order; the next blocks on the stack are read ahead
        const seen = new Set<string>([mhKey(root)])
        const readAhead = Math.max(1, options.readAhead ?? 16)
        const stack: Array<{ cid: CID, bytes?: Promise<Uint8Array> }> = [{ cid: root }]
        const start = (item: { cid: CID, bytes?: Promise<Uint8Array> }): Promise<Uint8Array> => {
          if (item.bytes == null) {
            item.bytes = read(item.cid)
            awaitedLater(item.bytes) // awaited when popped
          }
          return item.bytes
        }
        while (stack.length > 0) {
          signal.throwIfAborted()
          const item = stack.pop() as (typeof stack)[number]
          const bytes = await start(item)
          const links = blockLinks(item.cid, bytes).filter(l => {
            const k = mhKey(l)
            if (seen.has(k)) return false
            seen.add(k)
            return true
          })
          for (let i = links.length - 1; i >= 0; i--) stack.push({ cid: links[i] })
          // read the next blocks to write while this one is written
          for (let i = stack.length - 1; i >= Math.max(0, stack.length - readAhead); i--) awaitedLater(start(stack[i]))
          await writer.put({ cid: item.cid, bytes })
        }
      } finally {
        await writer.close()
      }
    })()
    awaitedLater(producer) // awaited below
    for await (const chunk of out) yield chunk
    await producer
  } catch (err) {
    throw translateError(err, undefined, options.signal)
  } finally {
    controller.abort()
    end()
  }
}
