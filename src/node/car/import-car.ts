/**
 * importCar: every block of a CAR (v1, or v2's inner v1) checked against its
 * CID (hashed with the CID's own hasher) before it is written; writes go
 * through the quota; the roots are pinned once every block is in. All or
 * nothing: on a bad CAR, a mismatched block, a refused write, an abort or a
 * root whose DAG is incomplete, the pins it added are removed and the
 * blocks it newly wrote are deleted, so usage is back to the byte.
 */
import { CarBlockIterator } from '@ipld/car/iterator'
import { BlockVerificationError, InvalidArgumentError, InvalidCarError, StorageError } from '../../errors.js'
import { translateError } from '../cid.js'
import { hasherByCode } from '../blocks/codecs.js'
import { localDag } from '../blocks/local-dag.js'
import { createWriteSession } from '../blocks/write-session.js'
import { pinRoot, unpinAll } from '../unixfs/pin-root.js'
import type { AddedPin } from '../unixfs/pin-root.js'
import type { ContentComponents } from '../blocks/components.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface ImportCarOptions extends AbortOptions {
  /** Pin the CAR's roots (each must then be complete in the CAR or already stored). @default true */
  pin?: boolean
  /** Name recorded with the pins. */
  name?: string
}

export interface ImportCarResult {
  roots: CID[]
  /** Blocks in the CAR. */
  blocks: number
  /** Bytes of those blocks. */
  bytes: number
}

type Source = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array

async function * toAsync (source: Source): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source
    return
  }
  yield * source
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}

/** Checks a block against its CID. @throws {BlockVerificationError} */
export async function verifyBlock (components: Pick<ContentComponents, 'getHasher'>, cid: CID, bytes: Uint8Array): Promise<void> {
  let hasher = hasherByCode(cid.multihash.code)
  if (hasher == null) {
    try {
      hasher = await components.getHasher(cid.multihash.code)
    } catch (err) {
      throw new BlockVerificationError(`No hasher for multihash 0x${cid.multihash.code.toString(16)} of ${cid}`, { cause: err })
    }
  }
  const digest = await hasher.digest(bytes)
  if (!sameBytes(digest.digest, cid.multihash.digest)) throw new BlockVerificationError(`Block ${cid} does not match its CID`)
}

export async function importCar (components: ContentComponents, source: Source, options: ImportCarOptions = {}): Promise<ImportCarResult> {
  options.signal?.throwIfAborted()
  if (source == null || (typeof source !== 'object')) throw new InvalidArgumentError('A CAR is a Uint8Array or an iterable of Uint8Array')
  const session = createWriteSession(components)
  const end = components.local.beginOperation()
  const pinned: AddedPin[] = []
  let ok = false
  try {
    let reader: CarBlockIterator
    try {
      reader = await CarBlockIterator.fromIterable(toAsync(source))
    } catch (err) {
      throw carError(err)
    }
    const roots = await reader.getRoots()
    let blocks = 0
    let bytes = 0
    const iterator = reader[Symbol.asyncIterator]()
    while (true) {
      options.signal?.throwIfAborted()
      let next
      try {
        next = await iterator.next()
      } catch (err) {
        throw carError(err)
      }
      if (next.done === true) break
      const { cid, bytes: block } = next.value
      await verifyBlock(components, cid, block)
      blocks++
      bytes += block.byteLength
      if (cid.multihash.code === 0x00) continue // identity: nothing to store
      await session.blockstore.put(cid, block, { signal: options.signal })
    }
    if (options.pin !== false) {
      for (const root of roots) {
        const dag = await localDag(components, root, options).catch((err: unknown) => {
          throw new InvalidCarError(`The DAG of root ${root} is not complete (in the CAR or stored)`, { cause: err })
        })
        const added = await pinRoot(components, root, { size: dag.size, name: options.name, blocks: dag.blocks, signal: options.signal })
        if (added != null) pinned.push(added)
      }
    }
    components.afterWrite?.()
    ok = true
    return { roots, blocks, bytes }
  } catch (err) {
    throw translateError(err, undefined, options.signal)
  } finally {
    if (!ok) {
      await unpinAll(components, pinned)
      await session.rollback()
    }
    end()
  }
}

function carError (err: any): Error {
  if (err instanceof StorageError) return err
  if (err?.name === 'AbortError') return err
  return new InvalidCarError(`Invalid CAR: ${String(err?.message ?? err)}`, { cause: err })
}
