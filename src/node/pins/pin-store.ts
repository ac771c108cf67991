/**
 * The workspace's pin records, in the datastore under Helia's own keys (`/pin/<cid>` per pin,
 * `/pinned-block/<multihash>` per block with the pins that hold it), so repos written by
 * `helia.pins` read the same. We keep our own implementation because Helia's:
 *
 * - counts a block once per *link* on `rm` (a file whose chunks repeat yields the same leaf
 *   hundreds of times): the block's count goes negative and it is never freed. Here every
 *   walk visits each unique block once (`walkLocalDag`), and `rm` only decrements a record that
 *   names the pin.
 * - updates a block record without a lock (two pins sharing a block at once lose an update);
 *   here the records are read, changed and written a batch at a time (1024 blocks: one
 *   multi-key read, one datastore batch), and one lock serialises the batches.
 * - writes one record per block with its own datastore call; a 100,000-file folder makes
 *   100,000 of them. Batched here (the records stay per block: gc and rollback ask
 *   `isPinned(block)`, and Helia-written repos read the same).
 * - leaves block records behind when a pin fails or the process dies between the block records
 *   and the pin record. Here a failed `add` undoes its records before it rethrows, and a
 *   `/pin-pending/<cid>` marker written first lets `repair()` (run at start) undo what a crash
 *   left: block records naming a pin that has no pin record.
 */
import { logger } from '@libp2p/logger'
import * as cborg from 'cborg'
import { Key } from 'interface-datastore'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { createKeyLock } from '../../util/key-lock.js'
import { BlockSet } from '../blocks/block-set.js'
import { crashPoint } from '../crash-points.js'
import { base36Text } from './pin-key.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

const log = logger('otherthing:node:pins')

const PIN_PREFIX = '/pin/'
const BLOCK_PREFIX = '/pinned-block/'
const PENDING_PREFIX = '/pin-pending/'

export type PinMetadata = Record<string, string | number | boolean>

export interface PinRecord {
  cid: CID
  depth: number
  metadata: PinMetadata
}

interface StoredPin { depth: number, metadata: PinMetadata }
interface StoredBlock { pinCount: number, pinnedBy: Uint8Array[] }

/** Visits each unique block of the pinned DAG once, awaiting `record` for each. */
export type PinWalk = (record: (block: CID) => Promise<void>) => Promise<void>

export interface RepairResult {
  /** Pins whose add or rm a crash interrupted. */
  interrupted: number
  /** Block records fixed or deleted. */
  records: number
}

export interface PinAddOptions extends AbortOptions {
  metadata?: PinMetadata
  /**
   * The blocks `walk` yields, in the same order, read again when the pin fails: its records are
   * then undone from these (skipping the few whose record it did not change) instead of from a
   * set of every block it changed, ~50 bytes a block held through the pin (a folder of 100,000
   * files has 130,000). Give it only when the order is fixed and each block comes once (e.g. a
   * BlockSet's blocks).
   * @default the changed blocks are kept in a set
   */
  undo?: Iterable<CID>
}

export interface PinStore {
  /** Pins `cid`: a record for each block `walk` yields, then the pin record. All or nothing. */
  add(cid: CID, walk: PinWalk, options?: PinAddOptions): Promise<void>
  /** Unpins `cid`: the pin record, then its name in each block record `walk` yields. */
  rm(cid: CID, walk: PinWalk, options?: AbortOptions): Promise<void>
  /** The pin record of a root, or undefined. */
  get(cid: CID, options?: AbortOptions): Promise<PinRecord | undefined>
  setMetadata(cid: CID, metadata: PinMetadata, options?: AbortOptions): Promise<void>
  ls(options?: AbortOptions): AsyncGenerator<PinRecord>
  /** Whether any pin holds this block. */
  isPinned(block: CID, options?: AbortOptions): Promise<boolean>
  /** Undo what a crash in the middle of `add` or `rm` left behind. */
  repair(options?: AbortOptions): Promise<RepairResult>
}

function rootKey (prefix: string, cid: CID): Key {
  return new Key(`${prefix}${(cid.version === 0 ? cid.toV1() : cid).toString(base36)}`)
}

/** A block record's key as a string (what a LevelDatastore stores; `new Key()` leaves it as is). */
function blockKeyString (cid: CID): string {
  return BLOCK_PREFIX + base36Text(cid.multihash.bytes)
}

function blockKey (cid: CID): Key {
  return new Key(blockKeyString(cid))
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0
}

function isNotFound (err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'NotFoundError'
}

/** Block records read and written at once (one datastore batch each). */
const BATCH = 1024
/** The one lock of the block records: a batch's read-modify-write runs alone. */
const RECORDS = 'records'

/**
 * A LevelDatastore's own database: many keys read in one call (missing ones are undefined),
 * and a batch written with string keys (no `Key` object, and its bytes, per record: a folder
 * pin writes 100,000+ records).
 */
interface LevelDb {
  getMany(keys: string[]): Promise<Array<Uint8Array | undefined>>
  batch(ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }>): Promise<void>
}

function levelDb (datastore: Datastore): LevelDb | undefined {
  const db = (datastore as { db?: Partial<LevelDb> }).db
  return typeof db?.getMany === 'function' && typeof db?.batch === 'function' ? db as LevelDb : undefined
}

class DefaultPinStore implements PinStore {
  private readonly datastore: Datastore
  private readonly locks = createKeyLock()
  private readonly level?: LevelDb

  constructor (datastore: Datastore) {
    this.datastore = datastore
    this.level = levelDb(datastore)
  }

  /** The block records of `keys` (undefined where there is none), read at once. */
  private async readBlocks (keys: string[], options?: AbortOptions): Promise<Array<StoredBlock | undefined>> {
    options?.signal?.throwIfAborted()
    if (this.level != null) {
      const values = await this.level.getMany(keys)
      return values.map(v => v == null ? undefined : cborg.decode(v) as StoredBlock)
    }
    return Promise.all(keys.map(async k => this.readBlock(new Key(k), options)))
  }

  /**
   * Read-modify-write of many block records at once: `change` returns false to leave a record;
   * the changed ones are written in one batch. Resolves the indexes of the keys changed.
   */
  private async updateBlocks (keys: string[], change: (record: StoredBlock) => boolean, options?: AbortOptions): Promise<number[]> {
    if (keys.length === 0) return []
    return this.locks.run(RECORDS, async () => {
      const records = await this.readBlocks(keys, options)
      const ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }> = []
      const changed: number[] = []
      // every block without a record changes the same way: encoded once (the batch copies the bytes)
      let fresh: Uint8Array | undefined
      for (let i = 0; i < keys.length; i++) {
        const existing = records[i]
        const record = existing ?? { pinCount: 0, pinnedBy: [] }
        if (!change(record)) continue
        if (record.pinCount <= 0) ops.push({ type: 'del', key: keys[i] })
        else ops.push({ type: 'put', key: keys[i], value: existing == null ? (fresh ??= cborg.encode(record)) : cborg.encode(record) })
        changed.push(i)
      }
      if (ops.length > 0) await this.writeBatch(ops)
      return changed
    })
  }

  private async writeBatch (ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }>): Promise<void> {
    if (this.level != null) {
      await this.level.batch(ops)
      return
    }
    const batch = this.datastore.batch()
    for (const op of ops) {
      if (op.type === 'put') batch.put(new Key(op.key), op.value)
      else batch.delete(new Key(op.key))
    }
    await batch.commit()
  }

  private static adds (pin: Uint8Array): (record: StoredBlock) => boolean {
    return (record) => {
      if (record.pinnedBy.some(c => sameBytes(c, pin))) return false
      record.pinCount++
      record.pinnedBy.push(pin)
      return true
    }
  }

  private static removes (pin: Uint8Array): (record: StoredBlock) => boolean {
    return (record) => {
      const kept = record.pinnedBy.filter(c => !sameBytes(c, pin))
      if (kept.length === record.pinnedBy.length) {
        // a record written by Helia's rm lost names: count it down only if it counts more pins than it names
        if (record.pinCount <= record.pinnedBy.length) return false
      }
      record.pinnedBy = kept
      record.pinCount--
      return true
    }
  }

  /** Runs `walk`, handing its blocks (and their keys) to `apply` BATCH at a time. */
  private async batched (walk: PinWalk, apply: (keys: string[], blocks: CID[]) => Promise<void>, options?: AbortOptions): Promise<void> {
    let keys: string[] = []
    let blocks: CID[] = []
    await walk(async (block) => {
      options?.signal?.throwIfAborted()
      keys.push(blockKeyString(block))
      blocks.push(block)
      if (keys.length >= BATCH) {
        const full = keys
        const fullBlocks = blocks
        keys = []
        blocks = []
        await apply(full, fullBlocks)
      }
    })
    await apply(keys, blocks)
  }

  private async readBlock (key: Key, options?: AbortOptions): Promise<StoredBlock | undefined> {
    try {
      return cborg.decode(await this.datastore.get(key, options)) as StoredBlock
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  private async removeName (key: Key, pin: Uint8Array): Promise<boolean> {
    return (await this.updateBlocks([key.toString()], DefaultPinStore.removes(pin))).length > 0
  }

  async add (cid: CID, walk: PinWalk, options: PinAddOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const pending = rootKey(PENDING_PREFIX, cid)
    await this.datastore.put(pending, cborg.encode({ op: 'add' }))
    // what to undo if it fails: the blocks whose records this pin changed (packed: a folder pin has
    // 100,000+), or with `undo` only how many blocks were applied and the ones left unchanged
    const undo = options.undo
    const recorded = new BlockSet({ capacity: undo != null ? 16 : undefined })
    const unchanged = new BlockSet({ capacity: 16 })
    let applied = 0
    try {
      const adds = DefaultPinStore.adds(cid.bytes)
      await this.batched(walk, async (keys, blocks) => {
        const changed = await this.updateBlocks(keys, adds, options)
        if (undo == null) {
          for (const i of changed) recorded.add(blocks[i])
        } else {
          let next = 0
          for (let i = 0; i < blocks.length; i++) {
            if (changed[next] === i) next++
            else unchanged.add(blocks[i])
          }
          applied += blocks.length
        }
      }, options)
      crashPoint('pin-records')
      options.signal?.throwIfAborted()
      const pin: StoredPin = { depth: Infinity, metadata: options.metadata ?? {} }
      await this.datastore.put(rootKey(PIN_PREFIX, cid), cborg.encode(pin))
    } catch (err) {
      // nothing of a failed pin stays: remove its name from the records it wrote (no signal: it may be aborted)
      const removes = DefaultPinStore.removes(cid.bytes)
      const changedBlocks = undo == null ? recorded : DefaultPinStore.replayed(undo, applied, unchanged)
      try {
        await this.batched(async (record) => { for (const block of changedBlocks) await record(block) }, async (keys) => { await this.updateBlocks(keys, removes) })
      } catch (undoErr) {
        log.error('could not undo the block records of failed pin %c: %e (repair() at next start fixes it)', cid, undoErr)
        throw err
      }
      await this.datastore.delete(pending)
      throw err
    }
    await this.datastore.delete(pending)
  }

  /** The first `applied` blocks of `undo`, less those in `unchanged`. */
  private static * replayed (undo: Iterable<CID>, applied: number, unchanged: BlockSet): Generator<CID> {
    if (applied === 0) return
    let n = 0
    for (const block of undo) {
      if (unchanged.size === 0 || !unchanged.has(block)) yield block
      if (++n >= applied) return
    }
  }

  async rm (cid: CID, walk: PinWalk, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const pending = rootKey(PENDING_PREFIX, cid)
    await this.datastore.put(pending, cborg.encode({ op: 'rm' }))
    await this.datastore.delete(rootKey(PIN_PREFIX, cid))
    crashPoint('unpin-records')
    // from here the pin is gone: finish even if aborted (repair() would otherwise have to)
    try {
      const removes = DefaultPinStore.removes(cid.bytes)
      await this.batched(walk, async (keys) => { await this.updateBlocks(keys, removes) })
    } catch (err) {
      // a block of the DAG is missing or unreadable (e.g. removed by verify): its subDAG cannot be walked
      log('unpin %c could not walk the DAG (%e): removing its name from every block record', cid, err)
      await this.removeNameEverywhere(cid)
    }
    await this.datastore.delete(pending)
  }

  async get (cid: CID, options?: AbortOptions): Promise<PinRecord | undefined> {
    try {
      const pin = cborg.decode(await this.datastore.get(rootKey(PIN_PREFIX, cid), options)) as StoredPin
      return { cid, depth: pin.depth, metadata: pin.metadata ?? {} }
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  async setMetadata (cid: CID, metadata: PinMetadata, options?: AbortOptions): Promise<void> {
    const key = rootKey(PIN_PREFIX, cid)
    const pin = cborg.decode(await this.datastore.get(key, options)) as StoredPin
    pin.metadata = metadata
    await this.datastore.put(key, cborg.encode(pin), options)
  }

  async * ls (options?: AbortOptions): AsyncGenerator<PinRecord> {
    for await (const { key, value } of this.datastore.query({ prefix: PIN_PREFIX }, options)) {
      const pin = cborg.decode(value) as StoredPin
      yield { cid: CID.parse(key.toString().substring(PIN_PREFIX.length), base36), depth: pin.depth, metadata: pin.metadata ?? {} }
    }
  }

  async isPinned (block: CID, options?: AbortOptions): Promise<boolean> {
    return this.datastore.has(blockKey(block), options)
  }

  /** Removes `cid` from every block record that names it (a scan of all block records). */
  private async removeNameEverywhere (cid: CID, options?: AbortOptions): Promise<number> {
    // a marker's key is the CIDv1; the records name the pin as it was given (a Kubo-profile pin is CIDv0)
    const names = [cid.toV1().bytes]
    if (cid.code === 0x70 && cid.multihash.code === 0x12) names.push(cid.toV0().bytes)
    let fixed = 0
    for await (const { key, value } of this.datastore.query({ prefix: BLOCK_PREFIX }, options)) {
      const record = cborg.decode(value) as StoredBlock
      const name = names.find(n => record.pinnedBy.some(c => sameBytes(c, n)))
      if (name == null) continue
      if (await this.removeName(key, name)) fixed++
    }
    return fixed
  }

  async repair (options?: AbortOptions): Promise<RepairResult> {
    const result: RepairResult = { interrupted: 0, records: 0 }
    const markers: Array<{ key: Key, cid: CID }> = []
    for await (const { key } of this.datastore.query({ prefix: PENDING_PREFIX }, options)) {
      markers.push({ key, cid: CID.parse(key.toString().substring(PENDING_PREFIX.length), base36) })
    }
    for (const { key, cid } of markers) {
      options?.signal?.throwIfAborted()
      if (await this.get(cid, options) != null) {
        // the add finished, or the rm never started: the records are whole
        await this.datastore.delete(key)
        continue
      }
      result.interrupted++
      log('repairing the block records of interrupted pin %c', cid)
      result.records += await this.removeNameEverywhere(cid, options)
      await this.datastore.delete(key)
    }
    return result
  }
}

export function createPinStore (datastore: Datastore): PinStore {
  return new DefaultPinStore(datastore)
}
