/**
 * The blockstore Helia sees for one workspace. It sits on top of the workspace's
 * QuotaBlockstore and:
 *
 * - runs every add, pin, cat, stat, CAR import... in a *write session* (`beginWrite()`): the
 *   session records every block touched inside it (has/get/put, attributed through
 *   AsyncLocalStorage, so Helia's and bitswap's calls made on the operation's behalf count too)
 *   and every block it newly wrote. A concurrent gc never deletes a block a live session
 *   touched. When the operation fails, `rollback()` deletes the blocks it wrote that no pin
 *   holds and no other live operation touched, so usage is back to the byte where it was;
 * - when a write is refused for lack of quota (or drive reserve), asks the storage node to
 *   garbage-collect and retries that write once. Our gc does not take Helia's blockstore lock,
 *   so calling it from inside a put is safe.
 *
 * Why rollback cannot delete a block from under a concurrent operation B: the check "did
 * another live session touch it" and marking the block as being deleted happen in one
 * synchronous step; any later access by B to that block waits until the delete is done, and
 * then finds it missing (and writes or fetches it again). A block B touched earlier is kept.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { logger } from '@libp2p/logger'
import { FsBlockstore } from 'blockstore-fs'
import { mhKey } from '../blockstore/mh-key.js'
import { orderedParallel } from '../blockstore/ordered-parallel.js'
import { BlockSet } from './blocks/block-set.js'
import { DiskReserveError, QuotaExceededError } from '../errors.js'
import type { RepoBlockstore } from './repo.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing:node:blockstore')
/** Blocks one `putMany` puts at once. */
const PUT_MANY_CONCURRENCY = 16

type Bytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>

export interface GuardedBlockstoreInit {
  child: RepoBlockstore
  /** Frees space (runs gc); resolves `true` when a retry may now succeed. */
  onFull?: () => Promise<boolean>
  /** Whether a pin holds the block (rollback keeps those). @default never */
  isPinned?: (cid: CID) => Promise<boolean>
}

export interface RollbackResult {
  /** Blocks deleted. */
  removed: number
  /** Blocks written by the session that were kept (pinned or used by another operation). */
  kept: number
}

/**
 * One operation's view of the blockstore: what it touched (kept by gc while it runs) and what
 * it newly wrote (removed by `rollback()`). End it with exactly one of `commit()` or `rollback()`.
 */
export interface WriteSession {
  /** Runs `fn` with this session current: every block access inside is attributed to it. */
  run<T>(fn: () => Promise<T>): Promise<T>
  /** Records a block this session newly stored through a path that bypasses `run` (e.g. a transfer callback). */
  recordWritten(cid: CID): void
  /** Records a block this session read through a path that bypasses the store (straight from its file): gc keeps it while the session is live. */
  recordRead(cid: CID): void
  /** Blocks this session newly stored so far. */
  readonly written: number
  /**
   * Every block put through this session (stored or there already), each once, in the order
   * first touched; iterable again (a fresh pass each time), not counting blocks only read.
   */
  putBlocks(): Iterable<CID>
  /** The blocks this session newly stored, as `putBlocks` (iterable again). */
  newBlocks(): Iterable<CID>
  /** The operation succeeded: keep everything, stop protecting its blocks. */
  commit(): void
  /** The operation failed: wait for its writes in flight, delete its unpinned new blocks, end. */
  rollback(): Promise<RollbackResult>
}

export interface GuardedBlockstore extends Blockstore {
  /** The store under this one (the workspace's QuotaBlockstore, or its FsBlockstore). */
  readonly child: RepoBlockstore
  /** Bytes stored by this workspace (undefined without a quota store). */
  readonly used: number | undefined
  /**
   * Stores a whole block, as `put`; resolves whether this call stored it (it was not there).
   * One existence check at most (the quota store's own, under its per-block lock).
   */
  putNew(cid: CID, bytes: Uint8Array, options?: PutNewOptions): Promise<boolean>
  /**
   * True when a resolved `put` keeps no reference to the bytes it was given (they went to a
   * file: the child is an FsBlockstore, or a store over one that says so), so the caller may
   * reuse that memory.
   */
  readonly copiesBytes: boolean
  beginWrite(): WriteSession
  /** The live session the caller runs in (`run`), if any. */
  current(): WriteSession | undefined
  /** Whether gc must keep this block (touched by an operation in flight). */
  isProtected(cid: CID): boolean
}

/** Put options our QuotaBlockstore understands: told when the put stored a new block. */
interface ReportingPutOptions extends AbortOptions { onStored?: () => void }

/**
 * `putNew`'s options. `returned`: the caller lends the bytes' memory (see QuotaPutOptions): a
 * large block's `ArrayBuffer` may be detached while the fs write worker writes it, and `returned`
 * gets the bytes as they came back (before the put settles).
 */
export interface PutNewOptions extends AbortOptions { returned?: (bytes: Uint8Array) => void }

export function isFullError (err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name
  return err instanceof QuotaExceededError || err instanceof DiskReserveError ||
    name === QuotaExceededError.name || name === DiskReserveError.name
}

/** The flag of a session's blocks that it newly stored. */
const NEW = 1
/** The flag of a session's blocks put through it (stored or not), as opposed to only read. */
const PUT = 2

class Session implements WriteSession {
  /** every block touched, flagged NEW when this session stored it: one packed set (a 100,000-file import touches 100,000) */
  readonly blocks = new BlockSet()
  private newCount = 0
  /** puts in flight (a count, not a set of promises: a set churned per block costs its rehashes), and who waits for none */
  inflight = 0
  private idle: Array<() => void> = []
  live = true
  private readonly store: DefaultGuardedBlockstore

  constructor (store: DefaultGuardedBlockstore) {
    this.store = store
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    return this.store.als.run(this, fn)
  }

  recordWritten (cid: CID): void {
    if (!this.live) return
    this.blocks.mark(cid, PUT)
    this.addNew(cid)
  }

  recordRead (cid: CID): void {
    if (this.live) this.blocks.add(cid)
  }

  get written (): number {
    return this.newCount
  }

  addNew (cid: CID): void {
    if (this.blocks.mark(cid, NEW)) this.newCount++
  }

  newBlocks (): Iterable<CID> {
    return { [Symbol.iterator]: () => this.blocks.entries(NEW) }
  }

  putBlocks (): Iterable<CID> {
    return { [Symbol.iterator]: () => this.blocks.entries(PUT) }
  }

  /** A put of this session ended. */
  settled (): void {
    if (--this.inflight > 0 || this.idle.length === 0) return
    const waiting = this.idle
    this.idle = []
    for (const resolve of waiting) resolve()
  }

  commit (): void {
    this.store.end(this)
  }

  async rollback (): Promise<RollbackResult> {
    while (this.inflight > 0) await new Promise<void>(resolve => { this.idle.push(resolve) })
    try {
      return await this.store.rollback(this)
    } finally {
      this.store.end(this)
    }
  }
}

class DefaultGuardedBlockstore implements GuardedBlockstore {
  readonly child: RepoBlockstore
  readonly als = new AsyncLocalStorage<Session>()
  private readonly onFull?: () => Promise<boolean>
  private readonly isPinned: (cid: CID) => Promise<boolean>
  private readonly reportsStored: boolean
  readonly copiesBytes: boolean
  private readonly sessions = new Set<Session>()
  /** blocks touched outside any session while sessions were live */
  private anonymous = new BlockSet({ capacity: 16 })
  /** blocks a rollback is deleting: accesses wait for it */
  private readonly deleting = new Map<string, Promise<void>>()

  constructor (init: GuardedBlockstoreInit) {
    this.child = init.child
    this.onFull = init.onFull
    this.isPinned = init.isPinned ?? (async () => false)
    this.reportsStored = (init.child as { reportsStored?: boolean }).reportsStored === true
    this.copiesBytes = init.child instanceof FsBlockstore || (init.child as { copiesBytes?: boolean }).copiesBytes === true
  }

  get used (): number | undefined {
    return this.child.used
  }

  beginWrite (): WriteSession {
    const session = new Session(this)
    this.sessions.add(session)
    return session
  }

  current (): WriteSession | undefined {
    const session = this.als.getStore()
    return session?.live === true ? session : undefined
  }

  end (session: Session): void {
    if (!session.live) return
    session.live = false
    this.sessions.delete(session)
    session.blocks.clear()
    if (this.sessions.size === 0) this.anonymous = new BlockSet({ capacity: 16 })
  }

  /** Whether a live session other than `except` touched the block. */
  private touchedByOthers (cid: CID, except?: Session): boolean {
    for (const s of this.sessions) if (s !== except && s.blocks.has(cid)) return true
    return false
  }

  isProtected (cid: CID): boolean {
    return this.touchedByOthers(cid) || this.anonymous.has(cid) || (this.deleting.size > 0 && this.deleting.has(mhKey(cid)))
  }

  /** Attributes an access to the current session (or to "someone" while sessions are live); `flag` marks a put. */
  private touch (cid: CID, flag = 0): Session | undefined {
    const session = this.als.getStore()
    if (session?.live === true) {
      if (flag === 0) session.blocks.add(cid)
      else session.blocks.mark(cid, flag)
      return session
    }
    if (this.sessions.size > 0) this.anonymous.add(cid)
    return undefined
  }

  /** Waits while a rollback deletes the block (no wait, nothing allocated, when none runs). */
  private async deleted (cid: CID): Promise<void> {
    if (this.deleting.size === 0) return
    await this.deleting.get(mhKey(cid))
  }

  async rollback (session: Session): Promise<RollbackResult> {
    const result: RollbackResult = { removed: 0, kept: 0 }
    for (const cid of session.newBlocks()) {
      const key = mhKey(cid)
      // one synchronous step: nobody else touched it, and from now on accesses wait for the delete
      if (this.touchedByOthers(cid, session) || this.anonymous.has(cid) || this.deleting.has(key)) {
        result.kept++
        continue
      }
      let done = (): void => {}
      this.deleting.set(key, new Promise<void>(resolve => { done = resolve }))
      try {
        if (await this.isPinned(cid)) {
          result.kept++
          continue
        }
        await this.child.delete(cid)
        result.removed++
      } catch (err) {
        // left for gc: it is unpinned, so the next gc frees it
        log.error('rollback could not delete block %c: %e', cid, err)
        result.kept++
      } finally {
        this.deleting.delete(key)
        done()
      }
    }
    return result
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    this.touch(cid)
    await this.deleted(cid)
    return this.child.has(cid, options)
  }

  async put (cid: CID, bytes: Bytes, options?: AbortOptions): Promise<CID> {
    const session = this.touch(cid, PUT)
    if (session == null) return this.putRetrying(cid, bytes, options)
    await this.putInSession(session, cid, bytes, options)
    return cid
  }

  async putNew (cid: CID, bytes: Uint8Array, options?: PutNewOptions): Promise<boolean> {
    const session = this.touch(cid, PUT)
    if (session != null) return this.putInSession(session, cid, bytes, options)
    if (this.reportsStored) {
      let stored = false
      const reporting: ReportingPutOptions = { ...options, onStored: () => { stored = true } }
      await this.putRetrying(cid, bytes, reporting)
      return stored
    }
    const stored = !await this.child.has(cid, options)
    await this.putRetrying(cid, bytes, options)
    return stored
  }

  /**
   * A put of the session, counted in flight meanwhile (rollback waits for them); resolves whether
   * it stored the block. One async frame a block: a 100,000-file import runs 100,000 of them.
   */
  private async putInSession (session: Session, cid: CID, bytes: Bytes, options?: PutNewOptions): Promise<boolean> {
    session.inflight++
    try {
      if (this.deleting.size > 0) await this.deleted(cid)
      let stored = false
      if (this.reportsStored) {
        const reporting: ReportingPutOptions = { ...options, onStored: () => { stored = true } }
        await this.putRetrying(cid, bytes, reporting)
      } else {
        stored = !await this.child.has(cid, options)
        await this.putRetrying(cid, bytes, options)
      }
      if (stored) session.addNew(cid)
      return stored
    } finally {
      session.settled()
    }
  }

  private async putRetrying (cid: CID, bytes: Bytes, options?: PutNewOptions): Promise<CID> {
    // lent bytes come back on another buffer: a retry writes those (the first are detached)
    let current = bytes
    const returned = options?.returned
    const opts = returned == null ? options : { ...options, returned: (b: Uint8Array) => { current = b; returned(b) } }
    try {
      return await this.child.put(cid, bytes, opts)
    } catch (err) {
      // only a whole buffer can be written again (the importer and bitswap always pass one)
      if (!isFullError(err) || !(current instanceof Uint8Array) || this.onFull == null) throw err
      if (!await this.onFull()) throw err
      return this.child.put(cid, current, opts)
    }
  }

  /** Puts up to `PUT_MANY_CONCURRENCY` blocks at once (not one after the other), yielding in order. */
  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    yield * orderedParallel(source, async ({ cid, bytes }) => this.put(cid, bytes, options), PUT_MANY_CONCURRENCY)
  }

  async * get (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    this.touch(cid)
    await this.deleted(cid)
    yield * this.child.get(cid, options)
  }

  async * getMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const cid of source) {
      yield { cid, bytes: this.get(cid, options) }
    }
  }

  getAll (options?: AbortOptions): Generator<Pair> | AsyncGenerator<Pair> {
    return this.child.getAll(options)
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    await this.child.delete(cid, options)
  }

  deleteMany (source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<CID> | Generator<CID> {
    return this.child.deleteMany(source, options)
  }
}

export function createGuardedBlockstore (init: GuardedBlockstoreInit): GuardedBlockstore {
  return new DefaultGuardedBlockstore(init)
}
