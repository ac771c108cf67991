/**
 * LinkTable (src/node/unixfs/link-table.ts): the packed links of a folder being built. Names are
 * found again by their UTF-8 bytes (non-ASCII too), links keep their kind, CID and Tsize, and it
 * grows far past its first capacity without losing any.
 */
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { LinkTable } from '../src/node/unixfs/link-table.js'

async function cidOf (i: number): Promise<CID> {
  return CID.createV0(await sha256.digest(new TextEncoder().encode(`link ${i}`)))
}

describe('LinkTable', () => {
  it('appends, finds and reads back links, non-ASCII names included', async () => {
    const t = new LinkTable()
    const names = ['a.txt', 'ünïcode-名前.bin', '😀', '']
    for (const [k, name] of names.entries()) {
      const i = t.append(name, k)
      t.setLink(i, await cidOf(k), 100 + k)
    }
    for (const [k, name] of names.entries()) {
      const i = t.find(name)
      expect(i).toBe(k)
      expect(t.name(i)).toBe(name)
      expect(t.nameBytes(i)).toBe(Buffer.byteLength(name))
      expect(t.kind(i)).toBe(k)
      expect(t.tsize(i)).toBe(100 + k)
      expect(t.cid(i).toString()).toBe((await cidOf(k)).toString())
    }
    expect(t.find('missing')).toBe(-1)
    expect(t.totalTsize()).toBe(100 + 101 + 102 + 103)
  })

  it('replaces a link target and kind in place', async () => {
    const t = new LinkTable()
    const i = t.append('x', 0)
    t.setLink(i, await cidOf(1), 5)
    t.setKind(i, 3)
    t.setLink(i, await cidOf(2), 7)
    expect(t.length).toBe(1)
    expect(t.kind(i)).toBe(3)
    expect(t.tsize(i)).toBe(7)
    expect(t.cid(i).toString()).toBe((await cidOf(2)).toString())
  })

  it('grows to 20,000 links', async () => {
    const t = new LinkTable()
    const cid = await cidOf(0)
    for (let k = 0; k < 20_000; k++) t.setLink(t.append(`file-${k}`, 0), cid, k)
    expect(t.length).toBe(20_000)
    for (let k = 0; k < 20_000; k += 97) {
      const i = t.find(`file-${k}`)
      expect(i).toBe(k)
      expect(t.tsize(i)).toBe(k)
    }
    expect(t.find('file-20000')).toBe(-1)
  })
})
