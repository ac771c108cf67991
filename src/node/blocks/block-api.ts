/**
 * The block API (Kubo's `block get|put|stat|rm`, `refs`, `refs local`) over
 * dag-pb, raw, dag-cbor and dag-json blocks.
 */
import { CID } from 'multiformats/cid'
import { BlockPinnedError, ContentNotFoundError, InvalidArgumentError } from '../../errors.js'
import { operationSignal, toCid, translateError } from '../cid.js'
import { collect, mhKey } from '../dag.js'
import { resolvePath } from '../unixfs/resolve.js'
import { blockLinks, codecByName, hasherByName } from './codecs.js'
import { createWriteSession } from './write-session.js'
import type { BlockFormat, HashName } from './codecs.js'
import type { CidOrPath, ContentComponents } from './components.js'
import type { AbortOptions } from '@libp2p/interface'

export interface BlockGetOptions extends AbortOptions {
  /** Only look in the local store, never ask peers. @default false */
  offline?: boolean
  /**
   * Give up after this many ms (a block nobody has is otherwise wanted until
   * `signal` aborts): the error is then a ContentNotFoundError (`ERR_NOT_FOUND`,
   * "not found within the timeout", as `cat`, `stat` and `pin` say it).
   */
  timeout?: number
}

export interface BlockPutOptions extends AbortOptions {
  /** The block's codec; the bytes must decode with it. @default 'raw' */
  format?: BlockFormat
  /** @default 'sha2-256' */
  mhtype?: HashName
  /** CIDv0 only for dag-pb with sha2-256. @default 1 (0 when format is 'dag-pb' and nothing else is said) */
  cidVersion?: 0 | 1
  /** Pin the block itself (not what it links to). @default false */
  pin?: boolean
}

export interface BlockStat {
  cid: CID
  /** Bytes of the block. */
  size: number
}

export interface RefsOptions extends AbortOptions {
  /** Every block below, not only the direct links. @default false */
  recursive?: boolean
  /** Each CID once. @default false */
  unique?: boolean
  /** @default false */
  offline?: boolean
}

export const MAX_BLOCK_SIZE = 4 * 1024 * 1024

async function readBlock (components: Pick<ContentComponents, 'blockstore' | 'local'>, cid: CID, options: BlockGetOptions): Promise<Uint8Array> {
  if (options.offline === true) {
    if (!await components.local.has(cid, options)) throw new ContentNotFoundError(`${cid} is not stored locally`)
    return collect(components.local.get(cid, options) as AsyncIterable<Uint8Array>)
  }
  return collect(components.blockstore.get(cid, options) as AsyncIterable<Uint8Array>)
}

/**
 * A block's bytes, from the local store or else from workspace peers.
 *
 * @throws {ContentNotFoundError} when nobody had it within `timeout` (or, `offline`, it is not stored here)
 * @throws {AbortedError} when `signal` aborts
 */
export async function blockGet (components: Pick<ContentComponents, 'blockstore' | 'local'>, cid: CID | string, options: BlockGetOptions = {}): Promise<Uint8Array> {
  if (options.signal?.aborted === true) throw translateError(options.signal.reason, undefined, options.signal)
  const c = toCid(cid)
  const op = operationSignal(options.signal, options.timeout)
  try {
    return await readBlock(components, c, { ...options, signal: op.signal })
  } catch (err) {
    throw translateError(err, op, options.signal)
  } finally {
    op.clear()
  }
}

/** The size of a block (read as `blockGet` reads it, with the same `timeout` and `signal`). */
export async function blockStat (components: Pick<ContentComponents, 'blockstore' | 'local'>, cid: CID | string, options: BlockGetOptions = {}): Promise<BlockStat> {
  const c = toCid(cid)
  const bytes = await blockGet(components, c, options)
  return { cid: c, size: bytes.byteLength }
}

/** The CID `bytes` get with these options (the bytes are checked to decode with the format). */
export async function blockCid (bytes: Uint8Array, options: Omit<BlockPutOptions, 'pin'> = {}): Promise<CID> {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('A block is a Uint8Array')
  if (bytes.byteLength > MAX_BLOCK_SIZE) throw new InvalidArgumentError(`A block is at most ${MAX_BLOCK_SIZE} bytes (got ${bytes.byteLength})`)
  const format = options.format ?? 'raw'
  const codec = codecByName(format)
  const hasher = hasherByName(options.mhtype ?? 'sha2-256')
  const version = options.cidVersion ?? 1
  if (version !== 0 && version !== 1) throw new InvalidArgumentError('cidVersion must be 0 or 1')
  if (version === 0 && (format !== 'dag-pb' || hasher.code !== 0x12)) throw new InvalidArgumentError('CIDv0 is only for dag-pb blocks hashed with sha2-256')
  if (format !== 'raw') {
    try {
      codec.decode(bytes)
    } catch (err) {
      throw new InvalidArgumentError(`The bytes are not valid ${format}`, { cause: err })
    }
  }
  const digest = await hasher.digest(bytes)
  return version === 0 ? CID.createV0(digest as any) : CID.createV1(codec.code, digest)
}

export async function blockPut (components: Pick<ContentComponents, 'blockstore' | 'local' | 'pins' | 'afterWrite'>, bytes: Uint8Array, options: BlockPutOptions = {}): Promise<CID> {
  options.signal?.throwIfAborted()
  const cid = await blockCid(bytes, options)
  const session = createWriteSession(components)
  const end = components.local.beginOperation()
  try {
    await session.blockstore.put(cid, bytes, options)
    if (options.pin === true && await components.pins.get(cid, options) == null) {
      await components.pins.add(cid, async (record) => { await record(cid) }, { signal: options.signal, metadata: { cid: cid.toString(), size: bytes.byteLength } })
    }
    components.afterWrite?.()
    return cid
  } catch (err) {
    await session.rollback()
    throw translateError(err, undefined, options.signal)
  } finally {
    end()
  }
}

/** Removes a local block. @throws {BlockPinnedError} @throws {ContentNotFoundError} */
export async function blockRm (components: Pick<ContentComponents, 'local' | 'pins'>, cid: CID | string, options: AbortOptions = {}): Promise<void> {
  options.signal?.throwIfAborted()
  const c = toCid(cid)
  if (await components.pins.isPinned(c, options)) throw new BlockPinnedError(`${c} is held by a pin`)
  if (!await components.local.has(c, options)) throw new ContentNotFoundError(`${c} is not stored locally`)
  await components.local.delete(c, options)
}

/**
 * The links below a node. Recursive walks visit each block once (a subtree
 * linked twice is listed once below its first link); `unique` also reports
 * each CID once.
 */
export async function * refs (components: Pick<ContentComponents, 'blockstore' | 'local'>, cidOrPath: CidOrPath, options: RefsOptions = {}): AsyncGenerator<CID> {
  const { cid: root } = await resolvePath(components, cidOrPath, options)
  const reported = new Set<string>()
  const visited = new Set<string>([mhKey(root)])
  const stack: CID[] = [root]
  try {
    while (stack.length > 0) {
      options.signal?.throwIfAborted()
      const cid = stack.pop() as CID
      const links = blockLinks(cid, await readBlock(components, cid, options))
      const below: CID[] = []
      for (const link of links) {
        const k = mhKey(link)
        if (options.unique === true) {
          if (reported.has(k)) continue
          reported.add(k)
        }
        yield link
        if (options.recursive === true && !visited.has(k)) {
          visited.add(k)
          below.push(link)
        }
      }
      for (let i = below.length - 1; i >= 0; i--) stack.push(below[i])
    }
  } catch (err) {
    throw translateError(err, undefined, options.signal)
  }
}

/** Every block stored locally. */
export async function * refsLocal (components: Pick<ContentComponents, 'local'>, options: AbortOptions = {}): AsyncGenerator<CID> {
  for await (const { cid } of components.local.getAll(options)) {
    options.signal?.throwIfAborted()
    yield cid
  }
}
