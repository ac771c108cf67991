/**
 * The links of one directory being built (dir-tree.ts), packed: names as
 * UTF-8 in one growing buffer with an open-addressing index over them, the
 * CIDs' bytes in another, kinds and Tsizes in typed arrays. No string, map
 * entry or object per link stays on the V8 heap (~60 bytes a link, outside
 * it): a 100,000-file folder's links would otherwise be the largest live set
 * of its import, and V8 lets its heap grow to a multiple of what is live.
 * The arrays are released (util/releasable.ts) when they grow and when the
 * folder is written (`release()`): their memory goes back at once, not at the
 * next full GC (which may come only after the pin, the import's peak).
 */
import { CID } from 'multiformats/cid'
import { release, releasable, releasableGrown } from '../../util/releasable.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
let scratch = new Uint8Array(1024)

/** `name` as UTF-8 in a shared scratch buffer (valid until the next call). */
function encodeName (name: string): Uint8Array {
  if (name.length * 3 > scratch.length) scratch = new Uint8Array(name.length * 3)
  const { written } = encoder.encodeInto(name, scratch)
  return scratch.subarray(0, written)
}

/** FNV-1a over the bytes. */
function hashBytes (bytes: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193)
  return h >>> 0
}

export class LinkTable {
  private count = 0
  private names = releasable(Uint8Array, 256)
  private namesEnd = 0
  private nameStart = releasable(Int32Array, 16)
  private nameLength = releasable(Int32Array, 16)
  private kinds = releasable(Uint8Array, 16)
  private tsizes = releasable(Float64Array, 16)
  private cids = releasable(Uint8Array, 256)
  private cidsEnd = 0
  private cidStart = releasable(Int32Array, 16)
  private cidLen = releasable(Uint8Array, 16)
  /** link + 1, 0 for an empty slot; at most half full */
  private table = releasable(Int32Array, 32)

  get length (): number {
    return this.count
  }

  /** The link named `name`, or -1. */
  find (name: string): number {
    const bytes = encodeName(name)
    const mask = this.table.length - 1
    for (let s = hashBytes(bytes) & mask; ; s = (s + 1) & mask) {
      const v = this.table[s]
      if (v === 0) return -1
      if (this.nameEquals(v - 1, bytes)) return v - 1
    }
  }

  /** Adds a link named `name` (not in the table), with no CID yet; returns its index. */
  append (name: string, kind: number): number {
    const bytes = encodeName(name)
    const i = this.count
    const n = i + 1
    this.nameStart = releasableGrown(Int32Array, this.nameStart, n)
    this.nameLength = releasableGrown(Int32Array, this.nameLength, n)
    this.kinds = releasableGrown(Uint8Array, this.kinds, n)
    this.tsizes = releasableGrown(Float64Array, this.tsizes, n)
    this.cidStart = releasableGrown(Int32Array, this.cidStart, n)
    this.cidLen = releasableGrown(Uint8Array, this.cidLen, n)
    this.names = releasableGrown(Uint8Array, this.names, this.namesEnd + bytes.length)
    this.names.set(bytes, this.namesEnd)
    this.nameStart[i] = this.namesEnd
    this.nameLength[i] = bytes.length
    this.namesEnd += bytes.length
    this.kinds[i] = kind
    this.tsizes[i] = 0
    this.cidLen[i] = 0
    this.count = n
    if (n * 2 > this.table.length) this.rehash(this.table.length * 2)
    else this.place(i, hashBytes(bytes))
    return i
  }

  name (i: number): string {
    const start = this.nameStart[i]
    return decoder.decode(this.names.subarray(start, start + this.nameLength[i]))
  }

  /** Bytes of the name in UTF-8. */
  nameBytes (i: number): number {
    return this.nameLength[i]
  }

  kind (i: number): number {
    return this.kinds[i]
  }

  setKind (i: number, kind: number): void {
    this.kinds[i] = kind
  }

  tsize (i: number): number {
    return this.tsizes[i]
  }

  /** Sets the link's target. */
  setLink (i: number, cid: CID, tsize: number): void {
    const bytes = cid.bytes
    if (bytes.length > 255) throw new RangeError('CID longer than 255 bytes')
    this.cids = releasableGrown(Uint8Array, this.cids, this.cidsEnd + bytes.length)
    this.cids.set(bytes, this.cidsEnd)
    this.cidStart[i] = this.cidsEnd
    this.cidLen[i] = bytes.length
    this.cidsEnd += bytes.length
    this.tsizes[i] = tsize
  }

  /** Bytes of the link's CID (0 before it has one). */
  cidBytes (i: number): number {
    return this.cidLen[i]
  }

  cid (i: number): CID {
    const start = this.cidStart[i]
    return CID.decode(this.cids.slice(start, start + this.cidLen[i]))
  }

  /** Sum of the Tsizes. */
  totalTsize (): number {
    let sum = 0
    for (let i = 0; i < this.count; i++) sum += this.tsizes[i]
    return sum
  }

  private nameEquals (i: number, bytes: Uint8Array): boolean {
    if (this.nameLength[i] !== bytes.length) return false
    const start = this.nameStart[i]
    for (let k = 0; k < bytes.length; k++) if (this.names[start + k] !== bytes[k]) return false
    return true
  }

  private place (i: number, hash: number): void {
    const mask = this.table.length - 1
    let s = hash & mask
    while (this.table[s] !== 0) s = (s + 1) & mask
    this.table[s] = i + 1
  }

  /** Frees the links' memory at once: the table is empty and must not be used afterwards. */
  release (): void {
    for (const a of [this.names, this.nameStart, this.nameLength, this.kinds, this.tsizes, this.cids, this.cidStart, this.cidLen, this.table]) release(a)
    this.count = 0
  }

  private rehash (size: number): void {
    release(this.table)
    this.table = releasable(Int32Array, size)
    for (let i = 0; i < this.count; i++) {
      const start = this.nameStart[i]
      this.place(i, hashBytes(this.names.subarray(start, start + this.nameLength[i])))
    }
  }
}
