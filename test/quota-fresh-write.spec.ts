/**
 * Fresh writes: a leaf hashed and written in one trip to a hash worker (import/hash.ts), counted
 * by QuotaBlockstore.putFresh. The worker's file has blockstore-fs's name, the count is exact
 * when the same block is written by two workers at once or by a worker and a locked put at
 * once (link() creates the file once), a refused reservation writes nothing, and a store over
 * another sharding takes no fresh writes.
 */
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { FlatDirectory } from 'blockstore-fs/sharding'
import * as dagPb from '@ipld/dag-pb'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createQuotaBlockstore, createQuotaLedger, scanFsBlockstore } from '../src/blockstore/index.js'
import { hashAndWriteBlock, hashBlock } from '../src/node/import/hash.js'
import type { QuotaBlockstore, QuotaLedger } from '../src/blockstore/index.js'
import type { EncodedBlock } from '../src/node/import/layout.js'
import { filesUnder } from './helpers/blocks.js'
import { killWriterMidway } from './helpers/killed-writer.js'
import { closeTempQuotaStore, fsQuotaStore, openTempQuotaStore } from './helpers/quota-store.js'

const SIZE = 256 * 1024

function leaf (bytes: Uint8Array): EncodedBlock {
  // a fresh copy each time: the hash worker takes (detaches) owned buffers
  return { bytes: new Uint8Array(bytes), code: dagPb.code, version: 0, owned: true }
}

async function fresh (store: QuotaBlockstore, bytes: Uint8Array): Promise<{ stored: boolean, retry: boolean, cid: string }> {
  const block = leaf(bytes)
  const r = await store.putFresh(block.bytes.byteLength, async (target) => target != null ? hashAndWriteBlock(block, target) : hashBlock(block))
  return { stored: r.stored, retry: r.retry, cid: r.result.cid.toString() }
}

describe('QuotaBlockstore fresh writes (hash worker writes the block)', () => {
  let dir: string
  let directory: string
  let ledger: QuotaLedger
  let store: QuotaBlockstore

  beforeEach(async () => {
    ({ dir, directory, ledger, store } = await openTempQuotaStore('quota-fresh-', 16 * SIZE))
  })

  afterEach(async () => {
    await closeTempQuotaStore({ dir, ledger, store })
  })

  it('writes the block under blockstore-fs\'s name, counts it once, leaves no temp file', async () => {
    const bytes = randomBytes(SIZE)
    const r = await fresh(store, bytes)
    expect(r).toMatchObject({ stored: true, retry: false })
    const { cid } = await hashBlock(leaf(bytes))
    expect(r.cid).toBe(cid.toString())
    const bare = new FsBlockstore(directory)
    const parts: Uint8Array[] = []
    for await (const c of bare.get(cid)) parts.push(c)
    expect(Buffer.compare(Buffer.concat(parts), bytes)).toBe(0)
    expect(await store.has(cid)).toBe(true)
    expect(store.used).toBe(SIZE)
    expect((await filesUnder(directory)).filter(f => f.endsWith('.tmp'))).toEqual([])
    // again: it is there, nothing counted, the caller is told to put it the usual way
    expect(await fresh(store, bytes)).toMatchObject({ stored: false, retry: true })
    expect(store.used).toBe(SIZE)
  })

  it('the same block written at once by several workers and by locked puts is counted once', async () => {
    const bytes = randomBytes(SIZE)
    const { cid } = await hashBlock(leaf(bytes))
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all([
        fresh(store, bytes), fresh(store, bytes), fresh(store, bytes),
        (async () => { await store.has(cid); await store.put(cid, new Uint8Array(bytes)); return undefined })(),
        store.put(cid, new Uint8Array(bytes)).then(() => undefined)
      ])
      expect(results.filter(r => r?.stored === true).length).toBeLessThanOrEqual(1)
      expect(store.used).toBe(SIZE)
      await store.delete(cid)
      expect(store.used).toBe(0)
    }
    const scan = await scanFsBlockstore(directory)
    expect(scan).toMatchObject({ bytes: 0, blocks: 0 })
  })

  it('a block that does not fit is neither written nor counted (the usual put reports it)', async () => {
    for (let i = 0; i < 16; i++) expect((await fresh(store, randomBytes(SIZE))).stored).toBe(true)
    const r = await fresh(store, randomBytes(SIZE))
    expect(r).toMatchObject({ stored: false, retry: true })
    expect(store.used).toBe(16 * SIZE)
    expect((await scanFsBlockstore(directory)).bytes).toBe(16 * SIZE)
  })

  it('usage after a restart equals the bytes on disk', async () => {
    for (let i = 0; i < 4; i++) await fresh(store, randomBytes(SIZE + i))
    await store.close()
    store = fsQuotaStore(directory, ledger, { rescanOnOpen: true })
    await store.open()
    expect(store.used).toBe((await scanFsBlockstore(directory)).bytes)
    expect(store.used).toBe(4 * SIZE + 6)
  })

  it('another sharding takes no fresh writes', async () => {
    const flatDir = path.join(dir, 'flat')
    const flat = createQuotaBlockstore({ child: new FsBlockstore(flatDir, { shardingStrategy: new FlatDirectory() }), ledger, name: 'flat', directory: flatDir, shardingStrategy: new FlatDirectory() })
    await flat.open()
    try {
      expect(flat.freshTarget(SIZE)).toBeUndefined()
      expect(store.freshTarget(SIZE)).toBeDefined()
      // small blocks go through the fs worker under the lock: never fresh
      expect(store.freshTarget(4096)).toBeUndefined()
    } finally {
      await flat.close()
    }
  })

  it('a process killed during fresh writes: usage after reopening equals the bytes on disk, no temp files left', async () => {
    await store.close()
    const writer = `
      import { randomBytes } from 'node:crypto'
      import { FsBlockstore } from 'blockstore-fs'
      import { createQuotaBlockstore, createQuotaLedger } from './src/blockstore/index.ts'
      import { hashAndWriteBlock, hashBlock } from './src/node/import/hash.ts'
      const { STATE_PATH, BLOCKS_DIR } = process.env
      const ledger = createQuotaLedger({ limitBytes: Infinity, statePath: STATE_PATH, reserveBytes: 0 })
      const store = createQuotaBlockstore({ child: new FsBlockstore(BLOCKS_DIR), ledger, name: 'ws', directory: BLOCKS_DIR })
      await store.open()
      const recent = []
      for (let round = 1; ; round++) {
        const ops = []
        for (let i = 0; i < 8; i++) {
          const block = { bytes: randomBytes(${SIZE} + i), code: 0x70, version: 0, owned: true }
          ops.push(store.putFresh(block.bytes.byteLength, async (t) => t != null ? hashAndWriteBlock(block, t) : hashBlock(block)).then(r => { recent.push(r.result.cid) }))
        }
        if (recent.length > 40) ops.push(store.delete(recent.shift()), store.delete(recent.shift()))
        await Promise.all(ops)
        if (round === 5) process.stdout.write('ready\\n')
      }
    `
    for (let run = 0; run < 2; run++) {
      await killWriterMidway(writer, { STATE_PATH: path.join(dir, 'ledger.json'), BLOCKS_DIR: directory })
      store = fsQuotaStore(directory, createQuotaLedger({ limitBytes: Infinity, statePath: path.join(dir, 'ledger.json'), reserveBytes: 0 }))
      await store.open()
      const scan = await scanFsBlockstore(directory)
      expect(scan.blocks).toBeGreaterThan(0)
      expect(store.used).toBe(scan.bytes)
      expect((await filesUnder(directory)).filter(f => f.endsWith('.tmp'))).toEqual([])
      await store.close()
    }
    store = fsQuotaStore(directory, ledger)
    await store.open()
  })
})
