/**
 * `cat`: streams a UnixFS file, local blocks read straight from their files (the leaves on the
 * leaf workers, checked against their CIDs), missing ones from peers. The timeout is an
 * inactivity timeout: it restarts whenever data arrives.
 */
import { InvalidArgumentError, RangeNotSatisfiableError } from '../../errors.js'
import { operationSignal, toCid, translateError } from '../cid.js'
import { getBlock } from '../dag.js'
import { createLocalFirstBlockReader, resolveFile } from '../export/index.js'
import type { OperationSignal } from '../cid.js'
import type { WorkspaceComponents } from '../components.js'
import type { UnixfsFile } from '../export/index.js'
import type { CatOptions } from '../types.js'
import type { CID } from 'multiformats/cid'

export type CatComponents = Pick<WorkspaceComponents, 'blockstore' | 'store' | 'layout'> & { settings?: Pick<WorkspaceComponents['settings'], 'hashOnRead'> }

function assertNonNegative (value: number | undefined, name: string): void {
  if (value != null && (!Number.isSafeInteger(value) || value < 0)) throw new InvalidArgumentError(`${name} must be a non-negative integer`)
}

/**
 * Runs `use` on the file `cid` inside a read-only session (what is read, from the files or
 * from peers, is safe from a concurrent gc until it ends) and the operation's signal.
 */
export async function * withFile<T> (components: CatComponents, cid: CID, options: Pick<CatOptions, 'signal' | 'timeout'>, use: (file: UnixfsFile, op: OperationSignal) => AsyncGenerator<T>): AsyncGenerator<T> {
  const session = components.store.beginWrite()
  const op = operationSignal(options.signal, options.timeout)
  try {
    const reader = createLocalFirstBlockReader({
      layout: components.layout,
      verify: components.settings?.hashOnRead ?? true,
      // touched before the read: gc keeps what the session read
      onRead: (c) => { session.recordRead(c) },
      fallback: async (c, o) => getBlock(components.blockstore, c, o)
    })
    yield * use(await resolveFile(cid, reader, { signal: op.signal }), op)
  } catch (err) {
    throw translateError(err, op, options.signal)
  } finally {
    op.clear()
    session.commit()
  }
}

export function cat (components: CatComponents, cidIn: CID | string, options: CatOptions = {}): AsyncIterable<Uint8Array> {
  const cid = toCid(cidIn)
  assertNonNegative(options.offset, 'offset')
  assertNonNegative(options.length, 'length')
  return withFile(components, cid, options, async function * (file, op) {
    if (options.offset != null && options.offset > file.size) throw new RangeNotSatisfiableError(`Offset ${options.offset} is beyond the end (${file.size} bytes)`)
    for await (const chunk of file.content({ offset: options.offset, length: options.length, signal: op.signal })) {
      op.touch()
      yield chunk
    }
  })
}
