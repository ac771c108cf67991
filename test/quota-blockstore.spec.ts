import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { FsBlockstore } from 'blockstore-fs'
import { CID } from 'multiformats/cid'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createQuotaBlockstore, createQuotaLedger, scanFsBlockstore } from '../src/blockstore/index.js'
import type { QuotaBlockstore, QuotaLedger, QuotaLedgerInit } from '../src/blockstore/index.js'
import { randomBlock as block, randomBlocks as blocks, chunked, filesUnder, rejection } from './helpers/blocks.js'

describe('QuotaBlockstore', () => {
  let dir: string
  let ledger: QuotaLedger
  const open: QuotaBlockstore[] = []

  async function makeLedger (init: Partial<QuotaLedgerInit> = {}): Promise<QuotaLedger> {
    ledger = createQuotaLedger({ limitBytes: 1024 * 1024, statePath: path.join(dir, 'quota-ledger.json'), reserveBytes: 0, ...init })
    await ledger.open()
    return ledger
  }

  async function makeStore (name = 'ws-a', l: QuotaLedger = ledger): Promise<QuotaBlockstore> {
    const directory = path.join(dir, name)
    const store = createQuotaBlockstore({ child: new FsBlockstore(directory), ledger: l, name, directory })
    await store.open()
    open.push(store)
    return store
  }

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'quota-bs-'))
    await makeLedger()
  })

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close()
    await ledger.close()
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('counts puts, charges nothing for a block already stored, frees on delete', async () => {
    const store = await makeStore()
    const [a, b] = await blocks(2, 1000)
    await store.put(a.cid, a.bytes)
    expect(store.used).toBe(1000)
    await store.put(a.cid, a.bytes)
    await store.put(a.cid, chunked(a.bytes, 100, { interleave: true }))
    expect(store.used).toBe(1000)
    await store.put(b.cid, chunked(b.bytes, 300, { interleave: true }))
    expect(store.used).toBe(2000)
    expect(ledger.used).toBe(2000)
    await store.delete(a.cid)
    expect(store.used).toBe(1000)
    await store.delete(a.cid) // not stored any more: frees nothing
    expect(store.used).toBe(1000)
    expect((await scanFsBlockstore(path.join(dir, 'ws-a'))).bytes).toBe(1000)
    expect(ledger.usage()).toEqual({ used: 1000, limit: 1024 * 1024, free: 1024 * 1024 - 1000, stores: { 'ws-a': 1000 } })
  })

  it('counts sync iterables and CIDv0/v1 of one multihash as one block', async () => {
    const store = await makeStore()
    const a = await block(500)
    await store.put(a.cid, [a.bytes.subarray(0, 200), a.bytes.subarray(200)])
    expect(store.used).toBe(500)
    const v0 = CID.createV0(a.cid.multihash as Parameters<typeof CID.createV0>[0])
    await store.put(v0, a.bytes)
    expect(store.used).toBe(500)
  })

  it('one quota covers every store of the ledger', async () => {
    await makeLedger({ limitBytes: 2500 })
    const a = await makeStore('ws-a')
    const b = await makeStore('ws-b')
    const [x, y, z] = await blocks(3, 1000)
    await a.put(x.cid, x.bytes)
    await b.put(y.cid, y.bytes)
    const err = await rejection(b.put(z.cid, z.bytes))
    expect(err.code).toBe('ERR_QUOTA_EXCEEDED')
    expect(ledger.usage().stores).toEqual({ 'ws-a': 1000, 'ws-b': 1000 })
    await a.delete(x.cid)
    await b.put(z.cid, z.bytes)
    expect(ledger.usage()).toMatchObject({ used: 2000, free: 500, stores: { 'ws-a': 0, 'ws-b': 2000 } })
  })

  it('refuses a put above the quota and writes nothing', async () => {
    await makeLedger({ limitBytes: 1500 })
    const store = await makeStore()
    const [a, b] = await blocks(2, 1000)
    await store.put(a.cid, a.bytes)
    const err = await rejection(store.put(b.cid, b.bytes))
    expect(err.name).toBe('QuotaExceededError')
    expect(err.code).toBe('ERR_QUOTA_EXCEEDED')
    expect(err).toMatchObject({ used: 1000, limit: 1500, requested: 1000 })
    expect(await store.has(b.cid)).toBe(false)
    expect(store.used).toBe(1000)
    expect(await filesUnder(path.join(dir, 'ws-a'))).toHaveLength(1)
  })

  it('aborts a streaming put as soon as it would exceed: stops reading, leaves nothing on disk, counts nothing', async () => {
    await makeLedger({ limitBytes: 3000 })
    const store = await makeStore()
    const big = await block(8000)
    const pulled = { count: 0 }
    const err = await rejection(store.put(big.cid, chunked(big.bytes, 1000, { interleave: true, pulled })))
    expect(err.code).toBe('ERR_QUOTA_EXCEEDED')
    expect(err).toMatchObject({ used: 0, limit: 3000, requested: 4000 })
    expect(pulled.count).toBe(4)
    expect(store.used).toBe(0)
    expect(ledger.usage().used).toBe(0)
    expect(await store.has(big.cid)).toBe(false)
    expect(await filesUnder(path.join(dir, 'ws-a'))).toEqual([])
    // the reservation was released: a block that fits still goes in
    const small = await block(3000)
    await store.put(small.cid, chunked(small.bytes, 1000, { interleave: true }))
    expect(store.used).toBe(3000)
  })

  it('a block already stored goes in even when the quota is full', async () => {
    await makeLedger({ limitBytes: 1000 })
    const store = await makeStore()
    const a = await block(1000)
    await store.put(a.cid, a.bytes)
    await store.put(a.cid, a.bytes)
    expect(store.used).toBe(1000)
  })

  it('setLimit: lowering below usage refuses writes and deletes nothing; raising allows them again', async () => {
    const store = await makeStore()
    const data = await blocks(5, 1000)
    for (const d of data) await store.put(d.cid, d.bytes)
    ledger.setLimit(2000)
    expect(ledger.limit).toBe(2000)
    expect(ledger.usage()).toMatchObject({ used: 5000, limit: 2000, free: 0 })
    const extra = await block(10)
    expect((await rejection(store.put(extra.cid, extra.bytes))).code).toBe('ERR_QUOTA_EXCEEDED')
    for (const d of data) expect(await store.has(d.cid)).toBe(true)
    expect(store.used).toBe(5000)
    ledger.setLimit(10_000)
    await store.put(extra.cid, extra.bytes)
    expect(store.used).toBe(5010)
    expect(() => { ledger.setLimit(-1) }).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }))
    expect(() => { ledger.setLimit(Number.NaN) }).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }))
    expect(() => createQuotaLedger({ limitBytes: -5 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }))
  })

  it('putMany and deleteMany keep the count, in order', async () => {
    const store = await makeStore()
    const data = await blocks(30, 700)
    const put: CID[] = []
    for await (const cid of store.putMany(data.map(d => ({ cid: d.cid, bytes: chunked(d.bytes, 256, { interleave: true }) })))) put.push(cid)
    expect(put).toEqual(data.map(d => d.cid))
    expect(store.used).toBe(30 * 700)
    const deleted: CID[] = []
    for await (const cid of store.deleteMany(data.slice(0, 10).map(d => d.cid))) deleted.push(cid)
    expect(deleted).toEqual(data.slice(0, 10).map(d => d.cid))
    expect(store.used).toBe(20 * 700)
    expect((await scanFsBlockstore(path.join(dir, 'ws-a'))).bytes).toBe(20 * 700)
  })

  it('putMany stops with QuotaExceededError at the edge', async () => {
    await makeLedger({ limitBytes: 5000 })
    const store = await makeStore()
    const data = await blocks(10, 1000)
    const err = await rejection((async () => {
      for await (const _ of store.putMany(data.map(d => ({ cid: d.cid, bytes: d.bytes })))) { /* drain */ }
    })())
    expect(err.code).toBe('ERR_QUOTA_EXCEEDED')
    expect(store.used).toBe(5000)
    expect((await scanFsBlockstore(path.join(dir, 'ws-a'))).bytes).toBe(5000)
  })

  it('100 parallel puts racing at the quota edge never end above it', async () => {
    await makeLedger({ limitBytes: 37_500 })
    const a = await makeStore('ws-a')
    const b = await makeStore('ws-b')
    const data = await blocks(100, 1000)
    const results = await Promise.allSettled(data.map(async (d, i) => {
      const store = i % 2 === 0 ? a : b
      // half stream in chunks (size unknown upfront), half are whole buffers
      return store.put(d.cid, i % 4 < 2 ? chunked(d.bytes, 128, { interleave: true }) : d.bytes)
    }))
    const ok = results.filter(r => r.status === 'fulfilled')
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    for (const f of failed) expect(f.reason.code).toBe('ERR_QUOTA_EXCEEDED')
    expect(ledger.used).toBeLessThanOrEqual(37_500)
    expect(ledger.used).toBe(ok.length * 1000)
    expect(ok.length).toBeGreaterThan(0)
    const onDisk = (await scanFsBlockstore(path.join(dir, 'ws-a'))).bytes + (await scanFsBlockstore(path.join(dir, 'ws-b'))).bytes
    expect(onDisk).toBe(ledger.used)
    expect(a.used + b.used).toBe(ledger.used)
    // no partial file left behind by the refused streams
    for (const name of [...await filesUnder(path.join(dir, 'ws-a')), ...await filesUnder(path.join(dir, 'ws-b'))]) {
      expect(name.endsWith('.tmp')).toBe(false)
    }
  })

  it('concurrent puts of the same block are counted once', async () => {
    const store = await makeStore()
    const a = await block(4000)
    const b = await block(4000)
    await Promise.all([
      ...Array.from({ length: 20 }, async () => store.put(a.cid, a.bytes)),
      ...Array.from({ length: 20 }, async () => store.put(b.cid, chunked(b.bytes, 512, { interleave: true })))
    ])
    expect(store.used).toBe(8000)
    expect((await scanFsBlockstore(path.join(dir, 'ws-a'))).bytes).toBe(8000)
  })

  it('a put racing a delete of the same block keeps the count exact', async () => {
    const store = await makeStore()
    const data = await blocks(20, 1000)
    for (const d of data) await store.put(d.cid, d.bytes)
    await Promise.all(data.flatMap(d => [store.delete(d.cid), store.put(d.cid, chunked(d.bytes, 300, { interleave: true })), store.delete(d.cid)]))
    expect(store.used).toBe((await scanFsBlockstore(path.join(dir, 'ws-a'))).bytes)
  })

  it('refuses changes when not open, and a second open store with the same name', async () => {
    const store = await makeStore()
    const a = await block(10)
    const twin = createQuotaBlockstore({ child: new FsBlockstore(path.join(dir, 'twin')), ledger, name: 'ws-a' })
    expect((await rejection(twin.open())).code).toBe('ERR_CONFLICT')
    expect((await rejection(twin.put(a.cid, a.bytes))).code).toBe('ERR_NOT_STARTED')
    expect((await rejection(twin.delete(a.cid))).code).toBe('ERR_NOT_STARTED')
    await store.put(a.cid, a.bytes)
    expect(() => createQuotaBlockstore({ child: new FsBlockstore(dir), ledger, name: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }))
    expect(() => createQuotaBlockstore({ child: new FsBlockstore(dir), ledger: { ...ledger }, name: 'x' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }))
  })

  it('removeStore forgets a purged store (refused while it is open)', async () => {
    const store = await makeStore('ws-a')
    const other = await makeStore('ws-b')
    const [a, b] = await blocks(2, 1000)
    await store.put(a.cid, a.bytes)
    await other.put(b.cid, b.bytes)
    expect((await rejection(ledger.removeStore('ws-a'))).code).toBe('ERR_CONFLICT')
    await store.close()
    open.splice(open.indexOf(store), 1)
    await ledger.removeStore('ws-a')
    expect(ledger.usage()).toMatchObject({ used: 1000, stores: { 'ws-b': 1000 } })
    expect(ledger.usage().stores['ws-a']).toBeUndefined()
    const state = JSON.parse(await fs.readFile(path.join(dir, 'quota-ledger.json'), 'utf8'))
    expect(Object.keys(state.stores)).toEqual(['ws-b'])
  })

  it('works over a blockstore without a directory (sizes by reading, rescans with getAll)', async () => {
    const child = new MemoryBlockstore()
    const store = createQuotaBlockstore({ child, ledger, name: 'mem' })
    await store.open()
    const [a, b] = await blocks(2, 1234)
    await store.put(a.cid, chunked(a.bytes, 100, { interleave: true }))
    await store.put(b.cid, b.bytes)
    expect(store.used).toBe(2468)
    await store.delete(a.cid)
    expect(store.used).toBe(1234)
    await store.close()
    const again = createQuotaBlockstore({ child, ledger, name: 'mem', rescanOnOpen: true })
    await again.open()
    expect(again.used).toBe(1234)
    await again.close()
  })
})
