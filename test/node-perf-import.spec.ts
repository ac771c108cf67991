/**
 * The fast importer and exporter (src/node/import, src/node/export) against
 * ipfs-unixfs-importer / ipfs-unixfs-exporter: byte-identical CIDs on random
 * files of many sizes for both profiles and other layouts, the same bytes
 * back (whole and ranges), bounded memory, errors and aborts.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core'
import { exporter } from 'ipfs-unixfs-exporter'
import { importer } from 'ipfs-unixfs-importer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalFirstBlockReader, resolveFile, writeToFile } from '../src/node/export/index.js'
import { fixedSizeChunks, importFile, layoutFor, readFileChunks } from '../src/node/import/index.js'
import { importerOptions } from '../src/node/profiles.js'
import type { FileLayout } from '../src/node/import/index.js'
import type { AddOptions } from '../src/node/index.js'
import type { CID } from 'multiformats/cid'

const KiB = 1024
const MiB = 1024 * KiB
const C = 262144

async function reference (bytes: Uint8Array, options: AddOptions): Promise<CID> {
  let cid: CID | undefined
  // pieces of odd sizes, as a stream would give them
  const pieces = (function * () { for (let i = 0; i < bytes.length; i += 100_003) yield bytes.subarray(i, i + 100_003) })()
  for await (const e of importer([{ content: pieces }], new MemoryBlockstore(), importerOptions(options))) cid = e.cid
  return cid as CID
}

function pieces (bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

/** A blockstore that counts what is written and the largest number of writes at once. */
function countingStore (): MemoryBlockstore & { maxInFlight: number, puts: number } {
  const store = new MemoryBlockstore() as MemoryBlockstore & { maxInFlight: number, puts: number }
  const put = store.put.bind(store)
  let inFlight = 0
  store.maxInFlight = 0
  store.puts = 0
  store.put = async (cid: any, bytes: any, options?: any) => {
    inFlight++
    store.puts++
    store.maxInFlight = Math.max(store.maxInFlight, inFlight)
    try {
      await new Promise(resolve => setImmediate(resolve))
      return await put(cid, bytes, options)
    } finally {
      inFlight--
    }
  }
  return store
}

const SIZES = [0, 1, 1000, C - 1, C, C + 1, 3 * C + 7, 174 * C - 1, 174 * C, 174 * C + 1, 175 * C + 5]

describe('importFile gives the CIDs of ipfs-unixfs-importer', () => {
  for (const profile of ['kubo', 'cidv1'] as const) {
    it.each(SIZES)(`${profile} profile, %i bytes`, async (size) => {
      const bytes = randomBytes(size)
      const store = new MemoryBlockstore()
      const r = await importFile(pieces(bytes, 65_537), store, { layout: layoutFor({ profile }) })
      expect(r.cid.toString()).toBe((await reference(bytes, { profile })).toString())
      expect(r.size).toBe(size)
    })
  }

  it.each<[string, AddOptions]>([
    ['CIDv1 without raw leaves', { cidVersion: 1, rawLeaves: false }],
    ['CIDv0 with raw leaves (becomes CIDv1)', { cidVersion: 0, rawLeaves: true }],
    ['small chunks, 3 links per node (a four-level tree)', { chunkSize: 1000, maxChildrenPerNode: 3 }],
    ['cidv1 profile with 4 KiB chunks and 11 links', { profile: 'cidv1', chunkSize: 4096, maxChildrenPerNode: 11 }]
  ])('%s', async (_name, options) => {
    for (const size of [0, 999, 1000, 1001, 27_000, 81_001, 300_000]) {
      const bytes = randomBytes(size)
      const r = await importFile(pieces(bytes, 7777), new MemoryBlockstore(), { layout: layoutFor(options) })
      expect(r.cid.toString(), `${size} bytes`).toBe((await reference(bytes, options)).toString())
    }
  })

  it('repeated content (same leaves and parents) and the 64 MiB two-level shape', async () => {
    const zeros = new Uint8Array(64 * MiB)
    const r = await importFile(pieces(zeros, MiB), new MemoryBlockstore(), { layout: layoutFor({}) })
    expect(r.height).toBe(2)
    expect(r.cid.toString()).toBe((await reference(zeros, {})).toString())
  })
})

describe('importFile memory and errors', () => {
  it('keeps at most `concurrency` chunk writes in flight', async () => {
    const store = countingStore()
    const layout: FileLayout = { ...layoutFor({}), chunkSize: 4096 }
    const r = await importFile(pieces(randomBytes(400 * 4096), 10_000), store, { layout, concurrency: 4 })
    expect(store.maxInFlight).toBeLessThanOrEqual(4)
    expect(store.puts).toBe(r.blocks)
  })

  it('reads the source no further than the chunks in flight', async () => {
    let read = 0
    const source = (async function * () {
      for (let i = 0; i < 1000; i++) {
        read++
        yield new Uint8Array(C)
      }
    })()
    const store = new MemoryBlockstore()
    const put = store.put.bind(store)
    let puts = 0
    store.put = async (cid: any, bytes: any, options?: any) => {
      if (++puts === 20) throw new Error('disk full')
      return put(cid, bytes, options)
    }
    await expect(importFile(source, store, { layout: layoutFor({}), concurrency: 8 })).rejects.toThrow('disk full')
    expect(read).toBeLessThan(20 + 8 + 2)
  })

  it('rejects layouts it cannot build, stops on abort', async () => {
    await expect(importFile([new Uint8Array(10)], new MemoryBlockstore(), { layout: { ...layoutFor({}), maxChildrenPerNode: 1 } }))
      .rejects.toHaveProperty('code', 'ERR_INVALID_ARGUMENT')
    const controller = new AbortController()
    const source = (async function * () {
      for (let i = 0; i < 100; i++) {
        if (i === 5) controller.abort()
        yield new Uint8Array(C)
      }
    })()
    await expect(importFile(source, new MemoryBlockstore(), { layout: layoutFor({}), signal: controller.signal })).rejects.toHaveProperty('name', 'AbortError')
  })

  it("never detaches the caller's buffers (raw leaves are copied to the hash workers)", async () => {
    const buf = randomBytes(MiB)
    const before = Buffer.from(buf)
    await importFile([buf], new MemoryBlockstore(), { layout: layoutFor({ profile: 'cidv1' }) })
    await importFile([buf], new MemoryBlockstore(), { layout: layoutFor({ profile: 'cidv1', chunkSize: C }) })
    expect(buf.byteLength).toBe(MiB)
    expect(Buffer.compare(buf, before)).toBe(0)
  })

  it('fixedSizeChunks: exact chunks whatever the pieces, one empty chunk for no input', async () => {
    const sizes = async (src: Uint8Array[], n: number): Promise<number[]> => {
      const out: number[] = []
      for await (const c of fixedSizeChunks(src, n)) out.push(c.byteLength)
      return out
    }
    expect(await sizes([], 4)).toEqual([0])
    expect(await sizes([new Uint8Array(3), new Uint8Array(6)], 4)).toEqual([4, 4, 1])
    expect(await sizes([new Uint8Array(8)], 4)).toEqual([4, 4])
  })
})

describe('file reading and the exporter', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'node-perf-import-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('readFileChunks + importFile of a file equals the bytes import; export gives the bytes back, whole and in ranges', async () => {
    const bytes = randomBytes(175 * C + 12_345)
    const file = join(dir, 'in.bin')
    await writeFile(file, bytes)
    for (const profile of ['kubo', 'cidv1'] as const) {
      const layout = layoutFor({ profile })
      const store = new MemoryBlockstore()
      const handle = await open(file)
      const r = await importFile(readFileChunks(handle, layout.chunkSize), store, { layout })
      await handle.close()
      expect(r.cid.toString()).toBe((await reference(bytes, { profile })).toString())

      // the reader's fallback is the memory store (blocksPath holds nothing)
      const reader = createLocalFirstBlockReader({
        blocksPath: join(dir, 'no-blocks'),
        fallback: async (cid) => {
          const chunks: Uint8Array[] = []
          for await (const c of store.get(cid)) chunks.push(c)
          return Buffer.concat(chunks)
        }
      })
      const f = await resolveFile(r.cid, reader, { readAhead: 4 })
      expect(f.size).toBe(bytes.length)
      const out = join(dir, `out-${profile}.bin`)
      let progress = 0
      expect(await writeToFile(f.content(), out, { onProgress: n => { progress = n } })).toBe(bytes.length)
      expect(progress).toBe(bytes.length)
      expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
      for (const [offset, length] of [[0, 1], [C - 1, 2], [300_000, MiB + 17], [174 * C - 5, 10], [bytes.length - 3, 100], [bytes.length, 5], [5, 0]]) {
        const got: Uint8Array[] = []
        for await (const c of f.content({ offset, length })) got.push(c)
        expect(Buffer.compare(Buffer.concat(got), bytes.subarray(offset, offset + length)), `${offset}+${length}`).toBe(0)
      }
      // same as the stock exporter
      const entry = await exporter(r.cid, store)
      expect(Number(entry.size)).toBe(f.size)
    }
  })

  it('the exporter refuses what is not a file', async () => {
    const store = new MemoryBlockstore()
    let dirCid: CID | undefined
    for await (const e of importer([{ path: 'd/a.txt', content: new Uint8Array([1]) }], store, { wrapWithDirectory: false })) dirCid = e.cid
    const reader = createLocalFirstBlockReader({
      blocksPath: dir,
      fallback: async (cid) => {
        const chunks: Uint8Array[] = []
        for await (const c of store.get(cid)) chunks.push(c)
        return Buffer.concat(chunks)
      }
    })
    await expect(resolveFile(dirCid as CID, reader)).rejects.toHaveProperty('code', 'ERR_INVALID_ARGUMENT')
  })
})
