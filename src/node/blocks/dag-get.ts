/**
 * Kubo's `dag get`: the decoded value a CID or path names. Names are walked
 * through UnixFS directories (as `resolve` does, HAMT shards too); below a
 * dag-cbor / dag-json node the path is walked through its fields and array
 * indexes, following every CID met on the way (the last one too), as Kubo
 * and `kubo-rpc-client`'s own `dag.get({ path })` do; a link to a UnixFS
 * directory met there is walked by names again.
 */
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { InvalidArgumentError, PathNotFoundError } from '../../errors.js'
import { operationSignal, translateError } from '../cid.js'
import { resolvePath } from '../unixfs/resolve.js'
import { blockGet } from './block-api.js'
import { codecByCode } from './codecs.js'
import type { CidOrPath, ContentComponents } from './components.js'
import type { AbortOptions } from '@libp2p/interface'

export interface DagGetOptions extends AbortOptions {
  /** Give up after this many ms (ContentNotFoundError, `ERR_NOT_FOUND`). */
  timeout?: number
}

export interface DagGetResult {
  /** The block the value was read from (the last CID the path reached). */
  cid: CID
  /** The decoded value: a dag-pb node `{ Data?, Links }`, a dag-cbor / dag-json value, or a raw block's bytes. */
  value: unknown
}

/**
 * The value a CID or path names.
 *
 * @throws {PathNotFoundError} when a field or name of the path is missing
 * @throws {ContentNotFoundError} when a block is not found within `timeout`
 * @throws {InvalidArgumentError} for a codec the node does not know
 */
export async function dagGet (components: Pick<ContentComponents, 'blockstore' | 'local'>, cidOrPath: CidOrPath, options: DagGetOptions = {}): Promise<DagGetResult> {
  const op = operationSignal(options.signal, options.timeout)
  const signal = op.signal
  try {
    let target: CidOrPath = cidOrPath
    walk: while (true) {
      const { cid: start, remainder } = await resolvePath(components, target, { signal })
      let cid = start
      let value = await load(components, cid, signal)
      const segments = (remainder ?? '').split('/').filter(s => s !== '')
      for (let i = 0; i < segments.length; i++) {
        value = field(value, segments[i], () => `no link named ${JSON.stringify(segments[i])} under ${cid.toString()}${i > 0 ? '/' + segments.slice(0, i).join('/') : ''}`)
        const link = CID.asCID(value)
        if (link == null) continue
        if (link.code === dagPb.code && i + 1 < segments.length) {
          // a UnixFS directory below an IPLD value: its names are walked as UnixFS again
          target = [link.toString(), ...segments.slice(i + 1).map(encodeURIComponent)].join('/')
          continue walk
        }
        cid = link
        value = await load(components, link, signal)
      }
      return { cid, value }
    }
  } catch (err) {
    throw translateError(err, op, options.signal)
  } finally {
    op.clear()
  }
}

async function load (components: Pick<ContentComponents, 'blockstore' | 'local'>, cid: CID, signal: AbortSignal): Promise<unknown> {
  const codec = codecByCode(cid.code)
  if (codec == null) throw new InvalidArgumentError(`Unsupported codec 0x${cid.code.toString(16)} of ${cid.toString()}`)
  return codec.decode(await blockGet(components, cid, { signal }))
}

/** `value[segment]` for a map key or an array index. @throws {PathNotFoundError} */
function field (value: unknown, segment: string, message: () => string): unknown {
  if (Array.isArray(value)) {
    if (/^(0|[1-9]\d*)$/.test(segment) && Number(segment) < value.length) return value[Number(segment)]
  } else if (value != null && typeof value === 'object' && !(value instanceof Uint8Array) && CID.asCID(value) == null &&
      Object.prototype.hasOwnProperty.call(value, segment)) {
    return (value as Record<string, unknown>)[segment]
  }
  throw new PathNotFoundError(message())
}
