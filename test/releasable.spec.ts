/** Arrays whose memory is freed when released (util/releasable.ts), and a link table's release. */
import { describe, expect, it } from 'vitest'
import { release, releasable, releasableGrown } from '../src/util/releasable.js'
import { LinkTable } from '../src/node/unixfs/link-table.js'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

describe('releasable arrays', () => {
  it('hold their elements until released, then nothing (their buffer is 0 bytes)', () => {
    const a = releasable(Int32Array, 1000)
    a[999] = 7
    expect(a.length).toBe(1000)
    expect(a[999]).toBe(7)
    release(a)
    expect(a.buffer.byteLength).toBe(0)
    expect(a.length).toBe(0)
    // a plain array is left to the GC
    const plain = new Uint8Array(8)
    release(plain)
    expect(plain.length).toBe(8)
  })

  it('grow by copying into a new array at least twice as long, the old one released', () => {
    const a = releasable(Uint8Array, 4)
    a.set([1, 2, 3, 4])
    expect(releasableGrown(Uint8Array, a, 4)).toBe(a)
    const b = releasableGrown(Uint8Array, a, 5)
    expect(b.length).toBe(8)
    expect([...b.subarray(0, 4)]).toEqual([1, 2, 3, 4])
    expect(a.buffer.byteLength).toBe(0)
  })

  it('a link table gives names and CIDs back until released, and frees every array then', async () => {
    const t = new LinkTable()
    const cid = CID.createV1(0x55, await sha256.digest(Uint8Array.of(1)))
    for (let i = 0; i < 3000; i++) t.setLink(t.append(`f-${i}`, 0), cid, i)
    expect(t.name(2999)).toBe('f-2999')
    expect(t.cid(2999).equals(cid)).toBe(true)
    const kept = t.cid(5)
    t.release()
    expect(t.length).toBe(0)
    // a CID handed out before owns its bytes
    expect(kept.equals(cid)).toBe(true)
  })
})
