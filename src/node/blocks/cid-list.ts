/**
 * A compact list of block CIDs for operations that touch many blocks (a
 * 100,000-file folder): multihashes packed in large buffers (~40 bytes a
 * block instead of a few hundred for CID objects), optionally each once.
 * CIDs come back as CIDv1 with the codec they went in with: blocks are
 * stored and pinned by multihash, so that is all the store needs.
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { BlockSet } from './block-set.js'

const PAGE = 1024 * 1024

export class CidList {
  private readonly pages: Buffer[] = []
  private offset = PAGE
  /** unique mode: the set is the list (~50 bytes a block, see block-set.ts) */
  private readonly set?: BlockSet
  private count = 0

  constructor (options: { unique?: boolean } = {}) {
    if (options.unique === true) this.set = new BlockSet()
  }

  /** Whether each CID is kept once. */
  get unique (): boolean {
    return this.set != null
  }

  get length (): number {
    return this.set?.size ?? this.count
  }

  /** Adds a CID; `false` when `unique` and it was there already. */
  add (cid: CID): boolean {
    if (this.set != null) return this.set.add(cid)
    const mh = cid.multihash.bytes
    // record: codec (varint-free 4 bytes), length (2 bytes), multihash
    const need = 6 + mh.byteLength
    if (this.offset + need > PAGE) {
      this.pages.push(Buffer.allocUnsafe(Math.max(PAGE, need)))
      this.offset = 0
    }
    const page = this.pages[this.pages.length - 1]
    page.writeUInt32LE(cid.code, this.offset)
    page.writeUInt16LE(mh.byteLength, this.offset + 4)
    page.set(mh, this.offset + 6)
    this.offset += need
    // mark the end of the page's records
    if (this.offset + 6 <= page.byteLength) page.writeUInt16LE(0, this.offset + 4)
    this.count++
    return true
  }

  * [Symbol.iterator] (): Generator<CID> {
    if (this.set != null) {
      yield * this.set
      return
    }
    for (let p = 0; p < this.pages.length; p++) {
      const page = this.pages[p]
      const end = p === this.pages.length - 1 ? this.offset : page.byteLength
      let off = 0
      while (off + 6 <= end) {
        const length = page.readUInt16LE(off + 4)
        if (length === 0) break
        const code = page.readUInt32LE(off)
        const mh = new Uint8Array(page.subarray(off + 6, off + 6 + length))
        yield CID.createV1(code, Digest.decode(mh))
        off += 6 + length
      }
    }
  }

  /** Empties the list (and frees its memory). */
  clear (): void {
    this.pages.length = 0
    this.offset = PAGE
    this.set?.clear()
    this.count = 0
  }
}
