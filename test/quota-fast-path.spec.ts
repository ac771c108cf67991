/**
 * The lean write path of QuotaBlockstore over an FsBlockstore: blocks written by the wrapper
 * itself (cached shard directories, temp file + rename), one existence check per put (a has()
 * that found the block missing lets the next put skip its own check), exact accounting.
 */
import fs from 'node:fs/promises'
import { FsBlockstore } from 'blockstore-fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAbsentHints } from '../src/blockstore/absent-hints.js'
import { scanFsBlockstore } from '../src/blockstore/index.js'
import type { QuotaBlockstore, QuotaLedger } from '../src/blockstore/index.js'
import { randomBlock as block, filesUnder } from './helpers/blocks.js'
import { closeTempQuotaStore, openTempQuotaStore } from './helpers/quota-store.js'

async function collect (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const chunk of source) parts.push(chunk)
  return Buffer.concat(parts)
}

describe('QuotaBlockstore fast path', () => {
  let dir: string
  let directory: string
  let ledger: QuotaLedger
  let store: QuotaBlockstore

  beforeEach(async () => {
    ({ dir, directory, ledger, store } = await openTempQuotaStore('quota-fast-', 64 * 1024 * 1024))
  })

  afterEach(async () => {
    await closeTempQuotaStore({ dir, ledger, store })
  })

  it('writes blocks blockstore-fs reads back, leaving no temp files', async () => {
    const blocks = await Promise.all(Array.from({ length: 40 }, async (_, i) => block(i * 997 + 1)))
    for await (const cid of store.putMany(blocks)) expect(cid).toBeDefined()
    const bare = new FsBlockstore(directory)
    for (const b of blocks) expect(Buffer.compare(await collect(bare.get(b.cid)), Buffer.from(b.bytes))).toBe(0)
    expect((await filesUnder(directory)).filter(f => f.endsWith('.tmp'))).toEqual([])
    const scan = await scanFsBlockstore(directory)
    expect(store.used).toBe(scan.bytes)
    expect(scan.blocks).toBe(blocks.length)
  })

  it('a lent large block goes to the fs write worker and back: written, counted once, bytes returned, no temp left', async () => {
    const b = await block(256 * 1024 + 17)
    const expected = Buffer.from(b.bytes)
    // a frame as the transfer's reader makes it: the block's bytes inside a buffer of their own
    const frame = new Uint8Array(b.bytes.byteLength + 40)
    frame.set(b.bytes, 40)
    const lent = frame.subarray(40)
    const returned: Uint8Array[] = []
    let stored = 0
    await store.put(b.cid, lent, { returned: (bytes) => { returned.push(bytes) }, onStored: () => { stored++ } })
    expect(returned).toHaveLength(1)
    // the memory went to the worker (detached here) and came back with the same bytes at the same place
    expect(frame.byteLength).toBe(0)
    expect(returned[0].byteOffset).toBe(40)
    expect(returned[0].buffer.byteLength).toBe(b.bytes.byteLength + 40)
    expect(Buffer.compare(Buffer.from(returned[0]), expected)).toBe(0)
    expect(stored).toBe(1)
    expect(Buffer.compare(await collect(new FsBlockstore(directory).get(b.cid)), expected)).toBe(0)
    // lent again while stored: found by the link (EEXIST), not counted twice
    await store.put(b.cid, returned[0], { returned: (bytes) => { returned.push(bytes) }, onStored: () => { stored++ } })
    expect(returned).toHaveLength(2)
    expect(Buffer.compare(Buffer.from(returned[1]), expected)).toBe(0)
    expect(stored).toBe(1)
    expect(store.used).toBe(b.bytes.byteLength)
    expect((await filesUnder(directory)).filter(f => f.endsWith('.tmp'))).toEqual([])
    // a small block is not lent: written as usual, its bytes left where they were
    const small = await block(4096)
    await store.put(small.cid, small.bytes, { returned: (bytes) => { returned.push(bytes) } })
    expect(returned).toHaveLength(2)
    expect(small.bytes.byteLength).toBe(4096)
    expect(store.used).toBe(b.bytes.byteLength + 4096)
  })

  it('has() then put(), as Helia does, counts a new block once and a stored block not at all', async () => {
    const b = await block(5000)
    expect(await store.has(b.cid)).toBe(false)
    await store.put(b.cid, b.bytes)
    expect(store.used).toBe(5000)
    expect(await store.has(b.cid)).toBe(true)
    await store.put(b.cid, b.bytes)
    // a stale "missing" answer must not let a second put count the block again
    expect(await store.has((await block(10)).cid)).toBe(false)
    await store.put(b.cid, b.bytes)
    expect(store.used).toBe(5000)
  })

  it('concurrent has() and put() of the same blocks: usage equals the bytes on disk', async () => {
    const blocks = await Promise.all(Array.from({ length: 30 }, async (_, i) => block(1000 + i)))
    const ops: Array<Promise<unknown>> = []
    for (let round = 0; round < 4; round++) {
      for (const b of blocks) {
        ops.push(store.has(b.cid))
        ops.push(store.has(b.cid).then(async () => store.put(b.cid, b.bytes)))
        ops.push(store.put(b.cid, b.bytes))
      }
    }
    await Promise.all(ops)
    const scan = await scanFsBlockstore(directory)
    expect(scan.blocks).toBe(blocks.length)
    expect(store.used).toBe(scan.bytes)
    expect(ledger.usage().used).toBe(scan.bytes)
  })

  it('a delete between has() and put() still counts the block', async () => {
    const b = await block(3000)
    await store.put(b.cid, b.bytes)
    expect(await store.has(b.cid)).toBe(true)
    await store.delete(b.cid)
    expect(store.used).toBe(0)
    expect(await store.has(b.cid)).toBe(false)
    await store.put(b.cid, b.bytes)
    expect(store.used).toBe(3000)
    expect((await scanFsBlockstore(directory)).bytes).toBe(3000)
  })

  it('recreates a shard directory removed behind its back', async () => {
    const a = await block(100)
    await store.put(a.cid, a.bytes)
    await fs.rm(directory, { recursive: true, force: true })
    await fs.mkdir(directory)
    // same shard directory as `a`, which the writer believes exists
    await store.put(a.cid, a.bytes)
    expect(await store.has(a.cid)).toBe(true)
  })

  it('a refused write leaves nothing on disk and counts nothing', async () => {
    ledger.setLimit(1000)
    const big = await block(2000)
    expect(await store.has(big.cid)).toBe(false)
    const err: any = await store.put(big.cid, big.bytes).catch(e => e)
    expect(err.code).toBe('ERR_QUOTA_EXCEEDED')
    expect(await store.has(big.cid)).toBe(false)
    expect(await filesUnder(directory)).toEqual([])
    expect(store.used).toBe(0)
  })

  it('an aborted put writes and counts nothing', async () => {
    const b = await block(100)
    const controller = new AbortController()
    controller.abort()
    await expect(store.put(b.cid, b.bytes, { signal: controller.signal })).rejects.toThrow()
    expect(await filesUnder(directory)).toEqual([])
    expect(store.used).toBe(0)
  })
})

describe('AbsentHints', () => {
  it('hints a key found missing, once', () => {
    const hints = createAbsentHints()
    hints.begin('a')
    hints.end('a', false)
    expect(hints.consume('a')).toBe(true)
    expect(hints.consume('a')).toBe(false)
  })

  it('gives no hint for a key found present or written while the check was in flight', () => {
    const hints = createAbsentHints()
    hints.begin('a')
    hints.end('a', true)
    expect(hints.consume('a')).toBe(false)

    hints.begin('b')
    hints.begin('b')
    hints.written('b')
    hints.end('b', false)
    hints.end('b', false)
    expect(hints.consume('b')).toBe(false)
    // the spoiled mark ends with the last check in flight
    hints.begin('b')
    hints.end('b', false)
    expect(hints.consume('b')).toBe(true)
  })

  it('a write drops the hint; the oldest hint goes first when full', () => {
    const hints = createAbsentHints(2)
    for (const k of ['a', 'b', 'c']) {
      hints.begin(k)
      hints.end(k, false)
    }
    expect(hints.consume('a')).toBe(false)
    hints.written('b')
    expect(hints.consume('b')).toBe(false)
    expect(hints.consume('c')).toBe(true)
  })
})
