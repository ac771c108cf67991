import fs from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import { ConflictError, InvalidArgumentError, NotStartedError, QuotaExceededError } from '../errors.js'
import { createDiskGuard } from './disk-space.js'
import type { DiskGuard, StatFsFn } from './disk-space.js'

const log = logger('otherthing:blockstore:ledger')

export interface QuotaLedgerInit {
  /** The quota in bytes, shared by every store of the node (the user's storage slider). `Infinity` for none. */
  limitBytes: number
  /**
   * JSON file where per-store usage and a "clean shutdown" flag are kept, e.g.
   * `<root>/ipfs/quota-ledger.json`. Without it every store is rescanned when opened.
   */
  statePath?: string
  /**
   * Bytes that must stay free on a store's drive, or a function of the drive's size.
   *
   * @default min(1% of the drive, 512 MiB)
   */
  reserveBytes?: number | ((totalBytes: number) => number)
  /**
   * How to ask the OS for a drive's free space (a test can simulate a nearly-full drive).
   *
   * @default fs.promises.statfs
   */
  statfs?: StatFsFn
  /**
   * How long a statfs answer is trusted, in milliseconds.
   *
   * @default 1000
   */
  statfsCacheMs?: number
  /** The clock of the statfs cache, ms (tests inject one). @default performance.now */
  now?: () => number
}

export interface QuotaUsage {
  /** Bytes stored, all stores together. */
  used: number
  /** The quota in bytes. */
  limit: number
  /** max(0, limit - used) */
  free: number
  /** Bytes stored per store name (stores known from the state file are included even if not open). */
  stores: Record<string, number>
}

/** One quota for every store of a node. */
export interface QuotaLedger {
  /** Bytes stored, all stores together. */
  readonly used: number
  /** The quota in bytes. */
  readonly limit: number
  /** Change the quota. Lowering it below `used` refuses new writes and deletes nothing. */
  setLimit(bytes: number): void
  /** A snapshot of usage. */
  usage(): QuotaUsage
  /** Forget a store (after its workspace was purged from disk). Refused while the store is open. */
  removeStore(name: string): Promise<void>
  /** Load the persisted state. Idempotent; `QuotaBlockstore.open()` calls it too. */
  open(): Promise<void>
  /** Persist the state. Close the stores first so their usage is recorded as exact. */
  close(): Promise<void>
}

interface PersistedState {
  version: 1
  stores: Record<string, { used: number, clean: boolean }>
}

/** @internal bookkeeping for one store */
export interface StoreEntry {
  name: string
  used: number
  /** the persisted `used` is exact (no write since it was recorded) */
  clean: boolean
  /** a QuotaBlockstore with this name is open */
  attached: boolean
}

/**
 * Bytes reserved for one write in progress. Grows as chunks stream through; `commit` turns the
 * bytes into usage, `release` gives them back.
 *
 * @internal
 */
export class Reservation {
  bytes = 0
  /** the quota/reserve error that stopped the write, if any */
  error?: Error
  private done = false

  constructor (private readonly ledger: DefaultQuotaLedger, private readonly entry: StoreEntry, private readonly guard?: DiskGuard) {}

  /** Reserve `n` more bytes or throw QuotaExceededError / DiskReserveError (and remember it). */
  add (n: number): void {
    try {
      this.ledger.reserve(this.bytes, n, this.guard)
    } catch (err: any) {
      this.error = err
      throw err
    }
    this.bytes += n
  }

  commit (): void {
    if (this.done) return
    this.done = true
    this.ledger.settle(this.entry, this.bytes, true, this.guard)
  }

  release (): void {
    if (this.done) return
    this.done = true
    this.ledger.settle(this.entry, this.bytes, false, this.guard)
  }
}

function assertBytes (value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (Number.isFinite(value) && !Number.isInteger(value))) {
    throw new InvalidArgumentError(`${what} must be a non-negative integer number of bytes (or Infinity)`)
  }
}

/** @internal */
export class DefaultQuotaLedger implements QuotaLedger {
  private limitBytes: number
  private readonly statePath?: string
  private readonly reserveBytes?: number | ((totalBytes: number) => number)
  private readonly statfs?: StatFsFn
  private readonly statfsCacheMs?: number
  private readonly now?: () => number
  private readonly entries = new Map<string, StoreEntry>()
  private readonly guards = new Map<string, DiskGuard>()
  private committed = 0
  private reserved = 0
  private opening?: Promise<void>
  private writing: Promise<void> = Promise.resolve()

  constructor (init: QuotaLedgerInit) {
    assertBytes(init.limitBytes, 'limitBytes')
    if (typeof init.reserveBytes === 'number') assertBytes(init.reserveBytes, 'reserveBytes')
    this.limitBytes = init.limitBytes
    this.statePath = init.statePath
    this.reserveBytes = init.reserveBytes
    this.statfs = init.statfs
    this.statfsCacheMs = init.statfsCacheMs
    this.now = init.now
  }

  get used (): number { return this.committed }
  get limit (): number { return this.limitBytes }

  setLimit (bytes: number): void {
    assertBytes(bytes, 'limit')
    this.limitBytes = bytes
  }

  usage (): QuotaUsage {
    const stores: Record<string, number> = {}
    for (const entry of this.entries.values()) stores[entry.name] = entry.used
    return { used: this.committed, limit: this.limitBytes, free: Math.max(0, this.limitBytes - this.committed), stores }
  }

  async open (): Promise<void> {
    this.opening ??= this.load().catch(err => {
      this.opening = undefined
      throw err
    })
    await this.opening
  }

  private async load (): Promise<void> {
    if (this.statePath == null) return
    let state: PersistedState | undefined
    try {
      state = parseState(await fs.readFile(this.statePath, 'utf8'))
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw err
    }
    // a missing or unreadable state file means: rescan each store when it opens
    for (const [name, { used, clean }] of Object.entries(state?.stores ?? {})) {
      if (this.entries.has(name)) continue
      this.entries.set(name, { name, used, clean, attached: false })
      this.committed += used
    }
  }

  async close (): Promise<void> {
    if (this.opening == null) return
    await this.persist()
    this.opening = undefined
  }

  async removeStore (name: string): Promise<void> {
    await this.open()
    const entry = this.entries.get(name)
    if (entry == null) return
    if (entry.attached) throw new ConflictError(`Store ${name} is open; close it before removing it from the quota ledger`)
    this.entries.delete(name)
    this.committed -= entry.used
    await this.persist()
  }

  // ---- used by QuotaBlockstore ----

  /** Register an open store; returns its entry (with the persisted usage, if any). */
  attach (name: string): StoreEntry {
    if (this.opening == null) throw new NotStartedError('Quota ledger is not open')
    let entry = this.entries.get(name)
    if (entry?.attached === true) throw new ConflictError(`A store named ${name} is already open`)
    if (entry == null) {
      entry = { name, used: 0, clean: false, attached: true }
      this.entries.set(name, entry)
    }
    entry.attached = true
    return entry
  }

  detach (entry: StoreEntry): void {
    entry.attached = false
  }

  /** Set a store's usage after a scan; persisted as exact. */
  async setStoreUsage (entry: StoreEntry, used: number): Promise<void> {
    this.committed += used - entry.used
    entry.used = used
    entry.clean = true
    await this.persist()
  }

  /** Record (durably) that the store's persisted usage is no longer exact. */
  async markDirty (entry: StoreEntry): Promise<void> {
    entry.clean = false
    await this.persist()
  }

  /** Record (durably) that the store's usage is exact again (it was closed). */
  async markClean (entry: StoreEntry): Promise<void> {
    entry.clean = true
    await this.persist()
  }

  /** The disk guard of the drive holding `directory` (one per device). */
  async diskGuard (directory: string): Promise<DiskGuard> {
    const { dev } = await fs.stat(directory)
    const key = String(dev)
    let guard = this.guards.get(key)
    if (guard == null) {
      guard = createDiskGuard({ path: directory, reserveBytes: this.reserveBytes, statfs: this.statfs, cacheMs: this.statfsCacheMs, now: this.now })
      this.guards.set(key, guard)
    }
    return guard
  }

  reservation (entry: StoreEntry, guard?: DiskGuard): Reservation {
    return new Reservation(this, entry, guard)
  }

  /** Reserve `n` more bytes for a write that has `already` reserved bytes. Synchronous, so parallel writes cannot overshoot. */
  reserve (already: number, n: number, guard?: DiskGuard): void {
    const inUse = this.committed + this.reserved
    if (inUse + n > this.limitBytes) {
      throw new QuotaExceededError(inUse - already, this.limitBytes, already + n)
    }
    guard?.reserve(n, already + n)
    this.reserved += n
  }

  settle (entry: StoreEntry, bytes: number, written: boolean, guard?: DiskGuard): void {
    this.reserved -= bytes
    if (written) {
      entry.used += bytes
      this.committed += bytes
      guard?.commit(bytes)
    } else {
      guard?.release(bytes)
    }
  }

  /** A block of `bytes` was deleted from the store. */
  freed (entry: StoreEntry, bytes: number, guard?: DiskGuard): void {
    entry.used -= bytes
    this.committed -= bytes
    guard?.freed(bytes)
  }

  /** Write the state file atomically (temp file + fsync + rename); writes are serialised. */
  async persist (): Promise<void> {
    const statePath = this.statePath
    if (statePath == null) return
    const next = this.writing.then(async () => {
      const state: PersistedState = { version: 1, stores: {} }
      for (const entry of this.entries.values()) state.stores[entry.name] = { used: entry.used, clean: entry.clean }
      await fs.mkdir(path.dirname(statePath), { recursive: true })
      const tmp = `${statePath}.tmp`
      const handle = await fs.open(tmp, 'w')
      try {
        await handle.writeFile(JSON.stringify(state, null, 2) + '\n')
        await handle.sync()
      } finally {
        await handle.close()
      }
      await fs.rename(tmp, statePath)
    })
    // the caller awaits `next` and gets its error; the chain only orders the writes
    this.writing = next.catch((err) => { log.trace('ledger write failed (reported to its caller): %e', err) })
    await next
  }
}

/** Parse the state file; anything unexpected yields undefined (every store gets rescanned). */
function parseState (text: string): PersistedState | undefined {
  let value: any
  try {
    value = JSON.parse(text)
  } catch (err) {
    log.error('quota ledger state unreadable, every store is rescanned: %e', err)
    return undefined
  }
  if (value?.version !== 1 || typeof value.stores !== 'object' || value.stores == null) return undefined
  const stores: PersistedState['stores'] = {}
  for (const [name, entry] of Object.entries<any>(value.stores)) {
    if (typeof entry?.used !== 'number' || !Number.isSafeInteger(entry.used) || entry.used < 0) continue
    stores[name] = { used: entry.used, clean: entry.clean === true }
  }
  return { version: 1, stores }
}

/**
 * Create the ledger shared by every QuotaBlockstore of one node.
 *
 * @example
 * ```ts
 * const ledger = createQuotaLedger({ limitBytes: 10 * 1024 ** 3, statePath: '/data/ipfs/quota-ledger.json' })
 * await ledger.open()
 * ```
 */
export function createQuotaLedger (init: QuotaLedgerInit): QuotaLedger {
  return new DefaultQuotaLedger(init)
}
