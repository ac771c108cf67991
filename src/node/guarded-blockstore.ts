/**
 * The blockstore Helia sees for one workspace. It sits on top of the
 * workspace's QuotaBlockstore and:
 *
 * - remembers every block touched (has/get/put) while an add, pin or cat is
 *   running, so a concurrent garbage collection never deletes blocks an
 *   operation in flight is about to pin;
 * - when a write is refused for lack of quota (or drive reserve), asks the
 *   storage node to garbage-collect and retries that write once. Our gc does
 *   not take Helia's blockstore lock, so calling it from inside a put is safe.
 */
import { DiskReserveError, QuotaExceededError } from '../errors.js'
import type { RepoBlockstore } from './repo.js'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

type Bytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>

export interface GuardedBlockstoreInit {
  child: RepoBlockstore
  /** Frees space (runs gc); resolves `true` when a retry may now succeed. */
  onFull?: () => Promise<boolean>
}

export interface GuardedBlockstore extends Blockstore {
  readonly child: RepoBlockstore
  /** Mark the start of an operation whose blocks must survive gc. Returns the end function. */
  beginOperation(): () => void
  /** Whether gc must keep this block (touched by an operation in flight). */
  isProtected(cid: CID): boolean
}

export function isFullError (err: any): boolean {
  return err instanceof QuotaExceededError || err instanceof DiskReserveError ||
    err?.name === QuotaExceededError.name || err?.name === DiskReserveError.name
}

function key (cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}

class DefaultGuardedBlockstore implements GuardedBlockstore {
  readonly child: RepoBlockstore
  private readonly onFull?: () => Promise<boolean>
  private operations = 0
  private touched = new Set<string>()

  constructor (init: GuardedBlockstoreInit) {
    this.child = init.child
    this.onFull = init.onFull
  }

  beginOperation (): () => void {
    this.operations++
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.operations--
      if (this.operations === 0) this.touched = new Set()
    }
  }

  isProtected (cid: CID): boolean {
    return this.touched.has(key(cid))
  }

  private touch (cid: CID): void {
    if (this.operations > 0) this.touched.add(key(cid))
  }

  async has (cid: CID, options?: any): Promise<boolean> {
    this.touch(cid)
    return this.child.has(cid, options)
  }

  async put (cid: CID, bytes: Bytes, options?: any): Promise<CID> {
    this.touch(cid)
    try {
      return await this.child.put(cid, bytes, options)
    } catch (err) {
      // only a whole buffer can be written again (the importer and bitswap always pass one)
      if (!isFullError(err) || !(bytes instanceof Uint8Array) || this.onFull == null) throw err
      if (!await this.onFull()) throw err
      return this.child.put(cid, bytes, options)
    }
  }

  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: any): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) {
      yield await this.put(cid, bytes, options)
    }
  }

  get (cid: CID, options?: any): Generator<Uint8Array> | AsyncGenerator<Uint8Array> {
    this.touch(cid)
    return this.child.get(cid, options)
  }

  async * getMany (source: Iterable<CID> | AsyncIterable<CID>, options?: any): AsyncGenerator<Pair> {
    for await (const cid of source) {
      yield { cid, bytes: this.get(cid, options) }
    }
  }

  getAll (options?: any): Generator<Pair> | AsyncGenerator<Pair> {
    return this.child.getAll(options)
  }

  async delete (cid: CID, options?: any): Promise<void> {
    await this.child.delete(cid, options)
  }

  deleteMany (source: Iterable<CID> | AsyncIterable<CID>, options?: any): AsyncGenerator<CID> | Generator<CID> {
    return this.child.deleteMany(source, options)
  }
}

export function createGuardedBlockstore (init: GuardedBlockstoreInit): GuardedBlockstore {
  return new DefaultGuardedBlockstore(init)
}
