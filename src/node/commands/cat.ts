/**
 * `cat`: streams a UnixFS file, local blocks read straight from their files, missing ones from
 * peers. The timeout is an inactivity timeout: it restarts whenever data arrives.
 */
import { InvalidArgumentError, RangeNotSatisfiableError } from '../../errors.js'
import { operationSignal, toCid, translateError } from '../cid.js'
import { getBlock } from '../dag.js'
import { createLocalFirstBlockReader, resolveFile } from '../export/index.js'
import type { WorkspaceComponents } from '../components.js'
import type { CatOptions } from '../types.js'
import type { CID } from 'multiformats/cid'

export type CatComponents = Pick<WorkspaceComponents, 'blockstore' | 'store' | 'layout'>

function assertNonNegative (value: number | undefined, name: string): void {
  if (value != null && (!Number.isSafeInteger(value) || value < 0)) throw new InvalidArgumentError(`${name} must be a non-negative integer`)
}

export function cat (components: CatComponents, cidIn: CID | string, options: CatOptions = {}): AsyncIterable<Uint8Array> {
  const cid = toCid(cidIn)
  assertNonNegative(options.offset, 'offset')
  assertNonNegative(options.length, 'length')
  return (async function * () {
    // read-only: the session keeps what is read (from the files or from peers) safe from a concurrent gc
    const session = components.store.beginWrite()
    const op = operationSignal(options.signal, options.timeout)
    try {
      const layout = components.layout
      const reader = createLocalFirstBlockReader({
        // touched before the read: gc keeps what the session read
        layout: { readBatched: async (c, o) => { session.recordRead(c); return layout.readBatched(c, o) } },
        fallback: async (c, o) => getBlock(components.blockstore, c, o)
      })
      const file = await resolveFile(cid, reader, { signal: op.signal })
      if (options.offset != null && options.offset > file.size) throw new RangeNotSatisfiableError(`Offset ${options.offset} is beyond the end (${file.size} bytes)`)
      for await (const chunk of file.content({ offset: options.offset, length: options.length, signal: op.signal })) {
        op.touch()
        yield chunk
      }
    } catch (err) {
      throw translateError(err, op, options.signal)
    } finally {
      op.clear()
      session.commit()
    }
  })()
}
