/**
 * BlockSet (src/node/blocks/block-set.ts): the packed set of blocks the write sessions, gc
 * protection and pin walks keep. Blocks are the same by multihash (a CIDv0 and a CIDv1 of the
 * same bytes are one block); flags mark a subset; it grows past its capacity (table and arena
 * pages) without losing anything; multihashes of other lengths (identity) and near-identical
 * digests (probe collisions) stay apart.
 */
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { BlockSet } from '../src/node/blocks/block-set.js'
import { CidList } from '../src/node/blocks/cid-list.js'

const RAW = 0x55
const DAG_PB = 0x70

async function cidOf (i: number, code = RAW): Promise<CID> {
  return CID.createV1(code, await sha256.digest(new TextEncoder().encode(`block ${i}`)))
}

/** sha2-256 multihashes that differ only in their last byte (same prefix, near digests). */
function nearDigest (i: number): CID {
  const bytes = new Uint8Array(32).fill(7)
  bytes[31] = i & 0xff
  bytes[30] = i >> 8
  return CID.createV1(RAW, Digest.create(sha256.code, bytes))
}

describe('BlockSet', () => {
  it('adds each block once and answers has', async () => {
    const set = new BlockSet()
    const a = await cidOf(1)
    const b = await cidOf(2)
    expect(set.add(a)).toBe(true)
    expect(set.add(a)).toBe(false)
    expect(set.has(a)).toBe(true)
    expect(set.has(b)).toBe(false)
    expect(set.size).toBe(1)
  })

  it('treats a CIDv0, a CIDv1 and another codec of the same multihash as one block', async () => {
    const set = new BlockSet()
    const v1 = await cidOf(3, DAG_PB)
    expect(set.add(v1.toV0())).toBe(true)
    expect(set.has(v1)).toBe(true)
    expect(set.add(CID.createV1(RAW, v1.multihash))).toBe(false)
    expect(set.size).toBe(1)
  })

  it('iterates in the order added, as CIDv1 with the first codec', async () => {
    const set = new BlockSet()
    const cids = [await cidOf(1, DAG_PB), await cidOf(2), await cidOf(3, DAG_PB)]
    for (const c of cids) set.add(c)
    set.add(cids[1])
    expect([...set].map(c => c.toString())).toEqual(cids.map(c => c.toString()))
  })

  it('marks flags and lists only the flagged blocks', async () => {
    const set = new BlockSet()
    const cids = await Promise.all([1, 2, 3, 4].map(async i => cidOf(i)))
    for (const c of cids) set.add(c)
    expect(set.mark(cids[1], 1)).toBe(true)
    expect(set.mark(cids[1], 1)).toBe(false)
    const added = await cidOf(5)
    expect(set.mark(added, 1)).toBe(true)
    expect(set.hasFlag(cids[1], 1)).toBe(true)
    expect(set.hasFlag(cids[0], 1)).toBe(false)
    expect(set.hasFlag(await cidOf(6), 1)).toBe(false)
    expect([...set.entries(1)].map(c => c.toString())).toEqual([cids[1], added].map(c => c.toString()))
    expect(set.size).toBe(5)
  })

  it('grows far past its capacity and over many arena pages, keeping every block', async () => {
    const set = new BlockSet({ capacity: 16 })
    const n = 20_000 // 20,000 x 34 bytes: three 256 KiB pages
    for (let i = 0; i < n; i++) expect(set.add(nearDigest(i))).toBe(true)
    for (let i = 0; i < n; i++) expect(set.add(nearDigest(i))).toBe(false)
    expect(set.size).toBe(n)
    let i = 0
    for (const cid of set) {
      expect(cid.multihash.bytes).toEqual(nearDigest(i).multihash.bytes)
      i++
    }
    expect(i).toBe(n)
    expect(set.has(nearDigest(n))).toBe(false)
  })

  it('keeps multihashes of other lengths apart (identity)', async () => {
    const set = new BlockSet()
    const short = CID.createV1(RAW, identity.digest(Uint8Array.of(1)))
    const longer = CID.createV1(RAW, identity.digest(Uint8Array.of(1, 0)))
    expect(set.add(short)).toBe(true)
    expect(set.add(longer)).toBe(true)
    expect(set.has(CID.createV1(RAW, identity.digest(Uint8Array.of(1))))).toBe(true)
    expect([...set].map(c => c.toString())).toEqual([short.toString(), longer.toString()])
  })

  it('hands out CIDs equal to freshly made ones (bytes, multihash, string), across slabs and codecs', async () => {
    const set = new BlockSet()
    const made: CID[] = []
    // enough to fill several 16 KiB slabs; a codec number of two varint bytes and identity hashes too
    for (let i = 0; i < 2000; i++) made.push(await cidOf(i, i % 3 === 0 ? DAG_PB : i % 3 === 1 ? RAW : 0x0129))
    made.push(CID.createV1(RAW, identity.digest(new TextEncoder().encode('short'))))
    made.push(CID.createV1(RAW, identity.digest(new Uint8Array(200).fill(9))))
    for (const cid of made) set.add(cid)
    const out = [...set]
    expect(out.length).toBe(made.length)
    out.forEach((cid, i) => {
      const expected = made[i]
      expect(cid.equals(expected)).toBe(true)
      expect(Buffer.from(cid.bytes).equals(Buffer.from(expected.bytes))).toBe(true)
      expect(cid.multihash.code).toBe(expected.multihash.code)
      expect(cid.multihash.size).toBe(expected.multihash.size)
      expect(Buffer.from(cid.multihash.digest).equals(Buffer.from(expected.multihash.digest))).toBe(true)
      expect(Buffer.from(cid.multihash.bytes).equals(Buffer.from(expected.multihash.bytes))).toBe(true)
      expect(cid.toString()).toBe(expected.toString())
    })
    // the views of one slab do not overlap: changing nothing, every CID still reads back
    expect(out.map(c => c.toString())).toEqual(made.map(c => c.toString()))
  })

  it('clear empties it', async () => {
    const set = new BlockSet()
    set.add(await cidOf(1))
    set.clear()
    expect(set.size).toBe(0)
    expect(set.has(await cidOf(1))).toBe(false)
    expect(set.add(await cidOf(1))).toBe(true)
  })

  it('backs the unique mode of CidList', async () => {
    const list = new CidList({ unique: true })
    const a = await cidOf(1)
    expect(list.add(a)).toBe(true)
    expect(list.add(a.toV1())).toBe(false)
    expect(list.length).toBe(1)
    expect(list.unique).toBe(true)
    expect([...list].map(c => c.toString())).toEqual([a.toString()])
  })
})
