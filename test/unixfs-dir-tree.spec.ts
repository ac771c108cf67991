/**
 * Our folder builder (dir-tree.ts, hamt.ts) against ipfs-unixfs-importer 17
 * with the same IPIP-499 profile, entry by entry: nested folders where a
 * sub-folder shards and its parent does not, the "links-bytes" and
 * "block-bytes" rules on either side of the threshold, empty folders (given
 * first, or filled later), wrapWithDirectory around a shard, symlinks, mode
 * and mtime, and non-ASCII names. addAll runs over an in-memory blockstore
 * (no node: the builder is what is tested), with pin: false.
 */
import { MemoryBlockstore } from 'blockstore-core/memory'
import { describe, expect, it } from 'vitest'
import { addAll } from '../src/node/unixfs/add-all.js'
import { referenceCids } from './helpers/folders.js'
import type { ContentComponents } from '../src/node/blocks/components.js'
import type { AddAllEntry, AddedEntry } from '../src/node/unixfs/options.js'
import type { ImportCandidate } from 'ipfs-unixfs-importer'

const PROFILES = { kubo: 'unixfs-v0-2015', cidv1: 'unixfs-v1-2025' } as const

function components (): ContentComponents {
  const store = new MemoryBlockstore()
  return {
    blockstore: store,
    local: {
      has: async (cid) => store.has(cid),
      get: (cid) => store.get(cid),
      delete: async (cid) => { await store.delete(cid) },
      getAll: () => store.getAll(),
      beginOperation: () => () => {}
    },
    pins: { isPinned: async () => false } as unknown as ContentComponents['pins'],
    getCodec: async () => { throw new Error('not used') },
    getHasher: async () => { throw new Error('not used') }
  }
}

async function ours (entries: AddAllEntry[], profile: 'kubo' | 'cidv1', wrap = false): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const all: AddedEntry[] = []
  for await (const e of addAll(components(), entries, { profile, pin: false, wrapWithDirectory: wrap })) all.push(e)
  for (const e of all) out.set(e.path, e.cid.toString())
  return out
}

/** Every entry the reference yields has the same CID in ours (ours also reports empty folders). */
async function expectSame (entries: AddAllEntry[], wrap = false): Promise<void> {
  for (const profile of ['kubo', 'cidv1'] as const) {
    const ref = await referenceCids(entries.map(e => ({ ...e })) as ImportCandidate[], { profile: PROFILES[profile], wrapWithDirectory: wrap })
    const got = await ours(entries, profile, wrap)
    for (const [path, cid] of ref.byPath) expect(got.get(path), `${profile} ${path}`).toBe(cid)
    expect([...got.values()].at(-1), `${profile} root`).toBe(ref.root)
  }
}

const file = (path: string, text = path): AddAllEntry => ({ path, content: Buffer.from(text) })
const many = (dir: string, n: number, nameLength = 40): AddAllEntry[] =>
  Array.from({ length: n }, (_, i) => file(`${dir}/${String(i).padStart(nameLength, 'n')}`, `${dir} ${i}`))

describe('dir-tree: the CIDs of ipfs-unixfs-importer 17', () => {
  it('nested folders: a sharded folder inside a flat one, inside a flat root', async () => {
    await expectSame([
      { path: 'top/' },
      file('top/readme.txt', 'hello'),
      ...many('top/big', 3500),
      file('top/small/a.txt'),
      file('top/small/deeper/b.txt'),
      { path: 'top/empty/' }
    ])
  })

  it('either side of the threshold, both rules', async () => {
    // 40-byte names: links-bytes (kubo, 74 bytes a link) passes 256 KiB at 3,543 links, block-bytes
    // (cidv1, ~85 bytes a link) near 3,085: each profile is tried flat and sharded
    for (const n of [3050, 3120, 3530, 3560]) {
      await expectSame(many('edge', n))
    }
  })

  it('wrapWithDirectory around loose files, a shard and an empty folder', async () => {
    await expectSame([file('a.txt'), ...many('s', 4000, 30), { path: 'e/' }], true)
  })

  it('a folder given empty, then filled; symlinks; mode and mtime; non-ASCII names', async () => {
    await expectSame([
      { path: 'm/', mode: 0o700, mtime: { secs: 1_700_000_000, nsecs: 5 } },
      { path: 'm/later/' },
      file('m/later/x.txt'),
      { path: 'm/link', link: '../x.txt' },
      { path: 'm/t.txt', content: Buffer.from('timed'), mtime: { secs: 1_600_000_000 } },
      file('m/ünïcödé/日本.txt', 'names'),
      { path: 'm/still-empty/', mode: 0o750 }
    ])
  })
})
