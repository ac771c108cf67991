/**
 * A set of blocks, by multihash, for operations that touch many of them (a
 * 100,000-file folder touches 100,000+): the multihashes packed one after the
 * other in fixed pages of one arena, found again through an open-addressing
 * table of entry numbers. About 50 bytes a block (a 34-byte sha2-256
 * multihash, 10 bytes of per-entry fields, the table at half load), where a
 * `Set` of base64 strings takes some 150, and no object per block for the
 * garbage collector to trace.
 *
 * The arena grows a page at a time (never copied); the per-entry fields and
 * the table double, which copies at most a few MiB for a million blocks.
 *
 * Each entry carries a byte of flags (e.g. "this operation newly wrote it"),
 * so one set can answer both "touched" and "written". CIDs come back as CIDv1
 * with the codec they were first added with: blocks are stored and pinned by
 * multihash, so that is all a store needs.
 */
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'

/** Bytes of one arena page. */
const PAGE = 256 * 1024

export interface BlockSetInit {
  /** Entries to make room for before growing. @default 1024 */
  capacity?: number
}

/** Bytes of a slab of CIDs handed out by `entries`. */
const SLAB = 16 * 1024

/** A Digest over `mh` (views of it, no copies). */
function decodeDigest (mh: Uint8Array): Digest.Digest<number, number> {
  let code = 0
  let shift = 1
  let i = 0
  for (; ; i++) {
    code += (mh[i] & 0x7f) * shift
    if ((mh[i] & 0x80) === 0) break
    shift *= 0x80
  }
  let size = 0
  shift = 1
  for (i++; ; i++) {
    size += (mh[i] & 0x7f) * shift
    if ((mh[i] & 0x80) === 0) break
    shift *= 0x80
  }
  const digest = mh.subarray(i + 1)
  if (digest.length !== size) return Digest.decode(mh.slice())
  return new Digest.Digest(code, size, digest, mh)
}

/** FNV-1a over the bytes (a multihash's digest is random, its prefix is not). */
function hashBytes (bytes: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193)
  return h >>> 0
}

function nextPowerOfTwo (n: number): number {
  let p = 16
  while (p < n) p *= 2
  return p
}

export class BlockSet implements Iterable<CID> {
  private readonly pages: Uint8Array[] = []
  private pageEnd = PAGE
  /** per entry: arena position (page * PAGE + offset), multihash length, codec, flags */
  private positions: Int32Array
  private lengths: Uint8Array
  private codes: Int32Array
  private flagBytes: Uint8Array
  /** entry number + 1, 0 for an empty slot; a power of two, at most half full */
  private table: Int32Array
  private count = 0

  constructor (init: BlockSetInit = {}) {
    const capacity = nextPowerOfTwo(init.capacity ?? 1024)
    this.positions = new Int32Array(capacity)
    this.lengths = new Uint8Array(capacity)
    this.codes = new Int32Array(capacity)
    this.flagBytes = new Uint8Array(capacity)
    this.table = new Int32Array(capacity * 2)
  }

  /** Blocks in the set. */
  get size (): number {
    return this.count
  }

  /** Whether the block (any CID of its multihash) is in the set. */
  has (cid: CID): boolean {
    return this.find(cid.multihash.bytes) >= 0
  }

  /** Adds the block; `false` when it was there already. */
  add (cid: CID): boolean {
    return this.insert(cid) >= 0
  }

  /**
   * Sets `flag` (a bit, 1 to 128) on the block, adding it when absent; `true` when the flag
   * was not set before.
   */
  mark (cid: CID, flag: number): boolean {
    let e = this.insert(cid)
    if (e < 0) e = -e - 1
    if ((this.flagBytes[e] & flag) !== 0) return false
    this.flagBytes[e] |= flag
    return true
  }

  /** Whether the block is in the set with `flag` set. */
  hasFlag (cid: CID, flag: number): boolean {
    const e = this.find(cid.multihash.bytes)
    return e >= 0 && (this.flagBytes[e] & flag) !== 0
  }

  /** Every block, each once, in the order added. */
  [Symbol.iterator] (): Generator<CID> {
    return this.entries(0)
  }

  /**
   * The blocks with `flag` set (every block for 0), in the order added. Each CID's bytes are a
   * view of a shared slab (one allocation for hundreds of CIDs, not three buffers each: a pin of
   * a 100,000-file folder walks 130,000 of them); a CID kept keeps its slab (16 KiB) alive.
   */
  * entries (flag: number): Generator<CID> {
    let slab = new Uint8Array(0)
    let used = 0
    for (let e = 0; e < this.count; e++) {
      if (flag !== 0 && (this.flagBytes[e] & flag) === 0) continue
      const mh = this.multihashAt(e)
      const code = this.codes[e]
      const prefix = varint.encodingLength(code) + 1
      const length = prefix + mh.length
      if (used + length > slab.length) {
        slab = new Uint8Array(Math.max(SLAB, length))
        used = 0
      }
      const bytes = slab.subarray(used, used + length)
      used += length
      bytes[0] = 1
      varint.encodeTo(code, bytes, 1)
      bytes.set(mh, prefix)
      yield new CID(1, code, decodeDigest(bytes.subarray(prefix)), bytes)
    }
  }

  /** Empties the set and frees its memory. */
  clear (): void {
    this.pages.length = 0
    this.pageEnd = PAGE
    this.count = 0
    this.positions = new Int32Array(16)
    this.lengths = new Uint8Array(16)
    this.codes = new Int32Array(16)
    this.flagBytes = new Uint8Array(16)
    this.table = new Int32Array(32)
  }

  private multihashAt (e: number): Uint8Array {
    const pos = this.positions[e]
    const page = this.pages[Math.floor(pos / PAGE)]
    const off = pos % PAGE
    return page.subarray(off, off + this.lengths[e])
  }

  private equals (e: number, mh: Uint8Array): boolean {
    if (this.lengths[e] !== mh.length) return false
    const pos = this.positions[e]
    const page = this.pages[Math.floor(pos / PAGE)]
    const off = pos % PAGE
    for (let i = mh.length - 1; i >= 0; i--) if (page[off + i] !== mh[i]) return false
    return true
  }

  /** The entry of `mh`, or -1. */
  private find (mh: Uint8Array): number {
    const mask = this.table.length - 1
    for (let s = hashBytes(mh) & mask; ; s = (s + 1) & mask) {
      const v = this.table[s]
      if (v === 0) return -1
      if (this.equals(v - 1, mh)) return v - 1
    }
  }

  /** Adds the block: its new entry number, or -(entry + 1) when it was there. */
  private insert (cid: CID): number {
    const mh = cid.multihash.bytes
    if (mh.length > 255) throw new RangeError('multihash longer than 255 bytes')
    const mask = this.table.length - 1
    let s = hashBytes(mh) & mask
    for (; ; s = (s + 1) & mask) {
      const v = this.table[s]
      if (v === 0) break
      if (this.equals(v - 1, mh)) return -v
    }
    const e = this.count
    if (e === this.positions.length) this.growEntries()
    if (this.pageEnd + mh.length > PAGE) {
      this.pages.push(new Uint8Array(PAGE))
      this.pageEnd = 0
    }
    this.pages[this.pages.length - 1].set(mh, this.pageEnd)
    this.positions[e] = (this.pages.length - 1) * PAGE + this.pageEnd
    this.pageEnd += mh.length
    this.lengths[e] = mh.length
    this.codes[e] = cid.code
    this.flagBytes[e] = 0
    this.table[s] = e + 1
    this.count++
    if (this.count * 2 > this.table.length) this.rehash()
    return e
  }

  private growEntries (): void {
    const n = this.positions.length * 2
    const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n)
      b.set(a)
      return b
    }
    this.positions = grow(this.positions, n => new Int32Array(n))
    this.lengths = grow(this.lengths, n => new Uint8Array(n))
    this.codes = grow(this.codes, n => new Int32Array(n))
    this.flagBytes = grow(this.flagBytes, n => new Uint8Array(n))
  }

  private rehash (): void {
    const table = new Int32Array(this.table.length * 2)
    const mask = table.length - 1
    for (let e = 0; e < this.count; e++) {
      let s = hashBytes(this.multihashAt(e)) & mask
      while (table[s] !== 0) s = (s + 1) & mask
      table[s] = e + 1
    }
    this.table = table
  }
}
