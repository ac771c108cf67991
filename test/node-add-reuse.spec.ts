/**
 * The add path's memory and record work: chunk buffers reused once their block is on disk
 * (ChunkPool, importFile's `release`), raw leaves handed to the hash workers uncopied, and
 * pin block records written in batches (more blocks than one batch, shared blocks, a walk that
 * fails half-way).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { MemoryBlockstore } from 'blockstore-core'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { importer } from 'ipfs-unixfs-importer'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allocChunk, createChunkPool, HEADROOM } from '../src/node/import/headroom.js'
import { encodeLeaf, importFile, layoutFor, readFileChunks } from '../src/node/import/index.js'
import { importerOptions } from '../src/node/profiles.js'
import { createPinStore } from '../src/node/pins/pin-store.js'

async function collect (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of source) parts.push(c)
  return Buffer.concat(parts)
}

async function rawCid (i: number): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(Buffer.from(`block ${i}`)))
}

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'add-reuse-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('ChunkPool', () => {
  it('hands a released buffer out again, with its headroom', () => {
    const pool = createChunkPool(1000)
    const a = pool.alloc()
    expect(a.byteLength).toBe(1000)
    expect(a.byteOffset).toBe(HEADROOM)
    expect(a.buffer.byteLength).toBe(1000 + 2 * HEADROOM)
    pool.release(a)
    const b = pool.alloc()
    expect(b.buffer).toBe(a.buffer)
    // a view anywhere in the buffer gives it back (a leaf encoded around the chunk)
    pool.release(new Uint8Array(b.buffer, 3, 500))
    expect(pool.alloc().buffer).toBe(a.buffer)
  })

  it('ignores a buffer given back twice, and buffers of another size', () => {
    const pool = createChunkPool(1000)
    const a = pool.alloc()
    pool.release(a)
    pool.release(a)
    const b = pool.alloc()
    const c = pool.alloc()
    expect(b.buffer).toBe(a.buffer)
    expect(c.buffer).not.toBe(a.buffer)
    const other = allocChunk(999)
    pool.release(other)
    expect(pool.alloc().buffer).not.toBe(other.buffer)
  })
})

describe('raw leaves from readFileChunks', () => {
  it('are the chunk itself, owned (transferred to a hash worker, not copied), once', () => {
    const layout = layoutFor({ profile: 'cidv1' })
    const chunk = allocChunk(4096)
    const leaf = encodeLeaf(chunk, layout)
    expect(leaf.bytes).toBe(chunk)
    expect(leaf.ownsBuffer).toBe(true)
    // claimed: the same chunk a second time is not the block's alone any more
    expect(encodeLeaf(chunk, layout).ownsBuffer).not.toBe(true)
    // a caller's buffer is never taken over
    expect(encodeLeaf(Buffer.alloc(4096), layout).ownsBuffer).not.toBe(true)
  })
})

describe('importFile with reused chunk buffers', () => {
  for (const profile of ['kubo', 'cidv1'] as const) {
    it(`${profile}: every stored block is intact although the buffers were reused`, async () => {
      const layout = layoutFor({ profile })
      const bytes = randomBytes(40 * layout.chunkSize + 12345)
      const file = join(dir, `in-${profile}`)
      await writeFile(file, bytes)
      const store = new FsBlockstore(join(dir, `blocks-${profile}`))
      await store.open()
      const pool = createChunkPool(layout.chunkSize)
      let released = 0
      const handle = await open(file)
      try {
        const r = await importFile(readFileChunks(handle, layout.chunkSize, { pool }), store, {
          layout,
          release: (b) => { released++; pool.release(b) }
        })
        const ref = new MemoryBlockstore()
        let refCid: CID | undefined
        for await (const e of importer([{ content: [bytes] }], ref, importerOptions({ profile }))) refCid = e.cid
        expect(r.cid.toString()).toBe(refCid?.toString())
        // every whole chunk went back to the pool (the short last one is copied by fixedSizeChunks)
        expect(released).toBe(40)
        for await (const { cid, bytes: b } of ref.getAll()) {
          expect(Buffer.compare(await collect(store.get(cid)), await collect(b))).toBe(0)
        }
      } finally {
        await handle.close()
        await store.close()
      }
    })
  }
})

describe('pin block records in batches', () => {
  it('records every block of a pin larger than a batch, shares blocks between pins, frees them on rm', async () => {
    const ds = new LevelDatastore(join(dir, 'ds-batches'))
    await ds.open()
    try {
      const pins = createPinStore(ds)
      const blocks = await Promise.all(Array.from({ length: 700 }, async (_, i) => rawCid(i)))
      const a = blocks[0]
      const b = blocks[400]
      await pins.add(a, async (record) => { for (const c of blocks.slice(0, 600)) await record(c) })
      await pins.add(b, async (record) => { for (const c of blocks.slice(400)) await record(c) })
      for (const c of blocks) expect(await pins.isPinned(c)).toBe(true)
      await pins.rm(a, async (record) => { for (const c of blocks.slice(0, 600)) await record(c) })
      for (const [i, c] of blocks.entries()) expect(await pins.isPinned(c)).toBe(i >= 400)
      await pins.rm(b, async (record) => { for (const c of blocks.slice(400)) await record(c) })
      for (const c of blocks) expect(await pins.isPinned(c)).toBe(false)
    } finally {
      await ds.close()
    }
  })

  it('a walk that fails after more than a batch leaves no record of the pin', async () => {
    const ds = new LevelDatastore(join(dir, 'ds-fail'))
    await ds.open()
    try {
      const pins = createPinStore(ds)
      const blocks = await Promise.all(Array.from({ length: 600 }, async (_, i) => rawCid(1000 + i)))
      const other = blocks[0]
      await pins.add(other, async (record) => { await record(blocks[0]); await record(blocks[550]) })
      await expect(pins.add(blocks[1], async (record) => {
        for (const c of blocks.slice(0, 520)) await record(c)
        throw new Error('walk failed')
      })).rejects.toThrow('walk failed')
      expect(await pins.get(blocks[1])).toBeUndefined()
      for (const [i, c] of blocks.entries()) expect(await pins.isPinned(c)).toBe(i === 0 || i === 550)
    } finally {
      await ds.close()
    }
  })

  it('with undo (the blocks read again), a pin failing after several batches leaves no record of it, and keeps records it did not change', async () => {
    const ds = new LevelDatastore(join(dir, 'ds-undo'))
    await ds.open()
    try {
      const pins = createPinStore(ds)
      const blocks = await Promise.all(Array.from({ length: 2600 }, async (_, i) => rawCid(5000 + i)))
      const failing = blocks[1]
      // a record already naming the failing pin (left by a crash: repair() would fix it) is not one this add changed
      const other = blocks[0]
      await pins.add(other, async (record) => { await record(blocks[0]); await record(blocks[2000]) })
      await pins.add(failing, async (record) => { await record(blocks[1500]) })
      await ds.delete(new Key(`/pin/${failing.toV1().toString(base36)}`))
      let undoReads = 0
      const undo = { * [Symbol.iterator] () { for (const c of blocks) { undoReads++; yield c } } }
      await expect(pins.add(failing, async (record) => {
        // two whole batches (1024 each) applied, then the walk fails
        for (const c of blocks.slice(0, 2100)) await record(c)
        throw new Error('walk failed')
      }, { undo })).rejects.toThrow('walk failed')
      expect(await pins.get(failing)).toBeUndefined()
      for (const [i, c] of blocks.entries()) expect(await pins.isPinned(c), `block ${i}`).toBe(i === 0 || i === 2000 || i === 1500)
      // only the applied prefix was read again
      expect(undoReads).toBe(2048)
      // an abort after the last batch: everything applied is undone
      const controller = new AbortController()
      await expect(pins.add(failing, async (record) => {
        for (const c of blocks.slice(0, 1100)) await record(c)
        controller.abort(new Error('stop'))
      }, { undo, signal: controller.signal })).rejects.toThrow()
      for (const [i, c] of blocks.entries()) expect(await pins.isPinned(c), `block ${i} after the abort`).toBe(i === 0 || i === 2000 || i === 1500)
    } finally {
      await ds.close()
    }
  })

  it('concurrent pins of the same blocks both count', async () => {
    const ds = new LevelDatastore(join(dir, 'ds-concurrent'))
    await ds.open()
    try {
      const pins = createPinStore(ds)
      const blocks = await Promise.all(Array.from({ length: 300 }, async (_, i) => rawCid(2000 + i)))
      const walk = async (record: (c: CID) => Promise<void>): Promise<void> => { for (const c of blocks) await record(c) }
      await Promise.all([pins.add(blocks[0], walk), pins.add(blocks[1], walk)])
      await pins.rm(blocks[0], walk)
      for (const c of blocks) expect(await pins.isPinned(c)).toBe(true)
      await pins.rm(blocks[1], walk)
      for (const c of blocks) expect(await pins.isPinned(c)).toBe(false)
    } finally {
      await ds.close()
    }
  })
})
