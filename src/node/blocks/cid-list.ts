/**
 * A compact list of block CIDs for operations that touch many blocks (a
 * 100,000-file folder): multihashes packed in large buffers (~40 bytes a
 * block instead of a few hundred for CID objects), optionally each once.
 * CIDs come back as CIDv1 with the codec they went in with: blocks are
 * stored and pinned by multihash, so that is all the store needs.
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'

const PAGE = 1024 * 1024

export class CidList {
  private readonly pages: Buffer[] = []
  private offset = PAGE
  private readonly seen?: Set<string>
  private count = 0

  constructor (options: { unique?: boolean } = {}) {
    if (options.unique === true) this.seen = new Set()
  }

  get length (): number {
    return this.count
  }

  /** Adds a CID; `false` when `unique` and it was there already. */
  add (cid: CID): boolean {
    const mh = cid.multihash.bytes
    if (this.seen != null) {
      const key = Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('latin1')
      if (this.seen.has(key)) return false
      this.seen.add(key)
    }
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
    this.seen?.clear()
    this.count = 0
  }
}
