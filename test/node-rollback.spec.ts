/**
 * Storage guarantees of issue #13: repeated chunks are freed by unpin + gc (local add and pin
 * from a peer); a failed add or pin (quota refused, aborted, source error mid-way) leaves
 * nothing pinned and nothing counted, at once; a rollback never deletes a block a concurrent
 * operation uses; every abort is an AbortedError whatever its timing.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, describe, expect, it } from 'vitest'
import { createBlockLayout } from '../src/blockstore/block-layout.js'
import { scanFsBlockstore } from '../src/blockstore/index.js'
import { createStorageNode } from '../src/node/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'
import type { StorageNode, StorageNodeInit, WorkspaceNode } from '../src/node/index.js'

const KiB = 1024
const MiB = 1024 * KiB
const dirs: string[] = []
const open: StorageNode[] = []

async function makeNode (init: Partial<StorageNodeInit> = {}): Promise<StorageNode> {
  const storagePath = await mkdtemp(join(tmpdir(), 'node-rollback-'))
  dirs.push(storagePath)
  const node = await createStorageNode({
    storagePath,
    quotaBytes: 64 * MiB,
    listenAddresses: ['/ip4/127.0.0.1/tcp/0'],
    blockTimeout: 1500,
    blockRetries: 1,
    dialTimeout: 1500,
    gcWatermark: 1,
    ...init
  })
  open.push(node)
  return node
}

/** Usage in the ledger, and the bytes of block files on disk, of one workspace. */
async function usage (node: StorageNode, ws: WorkspaceNode): Promise<{ ledger: number, disk: number, blocks: number }> {
  const scan = await scanFsBlockstore(join(node.root, 'ipfs', 'workspaces', ws.workspaceId, 'blocks'))
  return { ledger: (await node.stats()).usedBytes, disk: scan.bytes, blocks: scan.blocks }
}

async function read (ws: WorkspaceNode, cid: Parameters<WorkspaceNode['cat']>[0]): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of ws.cat(cid)) chunks.push(c)
  return Buffer.concat(chunks)
}

/** 256 KiB patterns repeated: `layout` lists which pattern each chunk is. */
function repeated (layout: number[]): Uint8Array {
  const patterns = [...new Set(layout)].map(() => randomBytes(256 * KiB))
  return Buffer.concat(layout.map(i => patterns[i]))
}

afterAll(async () => {
  await Promise.allSettled(open.map(async n => n.stop()))
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

describe('repeated chunks are freed', () => {
  const inputs: Array<[string, () => Uint8Array, 'kubo' | 'cidv1']> = [
    ['8 MiB of zeros (kubo)', () => new Uint8Array(8 * MiB), 'kubo'],
    ['8 MiB of zeros (cidv1, raw leaves)', () => new Uint8Array(8 * MiB), 'cidv1'],
    ['repeated 256 KiB patterns (kubo)', () => repeated([0, 1, 0, 0, 2, 1, 0, 2, 2, 0, 1, 0]), 'kubo']
  ]
  for (const [name, make, profile] of inputs) {
    it(`local add, unpin, gc: nothing left (${name})`, async () => {
      const node = await makeNode()
      const ws = await node.join('repeat', generateSwarmKey())
      const data = make()
      const { cid } = await ws.add(data, { profile })
      expect(Buffer.compare(await read(ws, cid), data)).toBe(0)
      await ws.unpin(cid)
      await ws.gc()
      expect(await usage(node, ws)).toEqual({ ledger: 0, disk: 0, blocks: 0 })
      // and it can be added and freed again
      const again = await ws.add(data, { profile })
      expect(again.cid.equals(cid)).toBe(true)
      await ws.unpin(cid)
      await ws.gc()
      expect(await usage(node, ws)).toEqual({ ledger: 0, disk: 0, blocks: 0 })
    })
  }

  it('pinned from a peer, unpin, gc: nothing left (zeros and patterns)', async () => {
    const key = generateSwarmKey()
    const source = await makeNode()
    const wa = await source.join('repeat-peer', key)
    const zeros = await wa.add(new Uint8Array(8 * MiB))
    const patterns = await wa.add(repeated([0, 1, 1, 0, 2, 0, 1, 2]))
    const node = await makeNode()
    const wb = await node.join('repeat-peer', key, { bootstrapPeers: wa.multiaddrs() })
    for (const { cid } of [zeros, patterns]) {
      await wb.pin(cid, { timeout: 10_000 })
      await wb.unpin(cid)
      await wb.gc()
      expect(await usage(node, wb)).toEqual({ ledger: 0, disk: 0, blocks: 0 })
    }
  })

  it('unpin of a DAG with a block missing on disk still frees every record and byte', async () => {
    const node = await makeNode()
    const ws = await node.join('repeat-missing', generateSwarmKey())
    const data = Buffer.concat([new Uint8Array(MiB), randomBytes(3 * MiB)])
    const { cid } = await ws.add(data, { profile: 'cidv1' })
    // a leaf lost from disk (cidv1: 1 MiB raw leaves)
    const leaf = CID.createV1(raw.code, await sha256.digest(data.subarray(2 * MiB, 3 * MiB)))
    await unlink(createBlockLayout({ directory: join(node.root, 'ipfs', 'workspaces', 'repeat-missing', 'blocks') }).pathOf(leaf))
    await ws.unpin(cid)
    expect(await ws.pins()).toEqual([])
    await ws.gc()
    const left = await usage(node, ws)
    expect(left.disk).toBe(0)
    expect(left.blocks).toBe(0)
  })

  it('two pins sharing repeated blocks: unpinning one keeps the other whole', async () => {
    const node = await makeNode()
    const ws = await node.join('repeat-two', generateSwarmKey())
    const a = await ws.add(new Uint8Array(4 * MiB))
    const bData = Buffer.concat([new Uint8Array(2 * MiB), randomBytes(300 * KiB)])
    const b = await ws.add(bData)
    await ws.unpin(a.cid)
    await ws.gc()
    expect(Buffer.compare(await read(ws, b.cid), bData)).toBe(0)
    expect((await ws.stat(b.cid, { offline: true })).local).toBe(true)
    await ws.unpin(b.cid)
    await ws.gc()
    expect(await usage(node, ws)).toEqual({ ledger: 0, disk: 0, blocks: 0 })
  })
})

describe('a failed write leaves nothing counted', () => {
  async function * source (data: Uint8Array, options: { failAt?: number, error?: Error, onChunk?: (bytes: number) => void } = {}): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < data.byteLength; i += 64 * KiB) {
      if (options.failAt != null && i >= options.failAt) throw options.error ?? new Error('source failed')
      options.onChunk?.(i)
      yield data.subarray(i, i + 64 * KiB)
      await new Promise(resolve => setImmediate(resolve))
    }
  }

  it('an add refused by the quota: usage back to the byte, nothing pinned', async () => {
    const node = await makeNode({ quotaBytes: 10 * MiB })
    const ws = await node.join('refused', generateSwarmKey())
    const kept = await ws.add(randomBytes(3 * MiB))
    const before = await usage(node, ws)
    const err = await ws.add(randomBytes(20 * MiB)).catch((e: unknown) => e)
    expect(err).toHaveProperty('code', 'ERR_QUOTA_EXCEEDED')
    expect(await usage(node, ws)).toEqual(before)
    expect((await ws.pins()).map(p => p.cid.toString())).toEqual([kept.cid.toString()])
  })

  it('an add whose source errors mid-way (a cut upload): the error, usage back to the byte', async () => {
    const node = await makeNode()
    const ws = await node.join('cut', generateSwarmKey())
    await ws.add(randomBytes(MiB))
    const before = await usage(node, ws)
    const cut = new Error('upload cut')
    const err = await ws.add(source(randomBytes(6 * MiB), { failAt: 4 * MiB, error: cut })).catch((e: unknown) => e)
    expect(err).toBe(cut)
    expect(await usage(node, ws)).toEqual(before)
    expect(await ws.pins()).toHaveLength(1)
  })

  it('an add aborted mid-way (Ctrl+C): AbortedError, usage back to the byte', async () => {
    const node = await makeNode()
    const ws = await node.join('abort-mid', generateSwarmKey())
    const before = await usage(node, ws)
    const controller = new AbortController()
    const p = ws.add(source(randomBytes(12 * MiB), { onChunk: (i) => { if (i >= 8 * MiB) controller.abort() } }), { signal: controller.signal })
    const err = await p.catch((e: unknown) => e)
    expect(err).toHaveProperty('name', 'AbortedError')
    expect(err).toHaveProperty('code', 'ERR_ABORTED')
    expect(await usage(node, ws)).toEqual(before)
    expect(await ws.pins()).toHaveLength(0)
  })

  it('a pin that fails (a block no peer has): nothing pinned, usage back to the byte', async () => {
    const key = generateSwarmKey()
    const source = await makeNode()
    const wa = await source.join('pin-fail', key)
    const { cid } = await wa.add(randomBytes(3 * MiB))
    // the provider loses one leaf
    const blocksDir = join(source.root, 'ipfs', 'workspaces', 'pin-fail', 'blocks')
    const { readdir, unlink } = await import('node:fs/promises')
    const shard = (await readdir(blocksDir))[0]
    const file = (await readdir(join(blocksDir, shard)))[0]
    await unlink(join(blocksDir, shard, file))
    const node = await makeNode()
    const wb = await node.join('pin-fail', key, { bootstrapPeers: wa.multiaddrs() })
    const before = await usage(node, wb)
    const err = await wb.pin(cid, { timeout: 6000 }).catch((e: unknown) => e)
    expect(err).toHaveProperty('name')
    expect(['ERR_NOT_FOUND', 'ERR_CONTENT_NOT_FOUND']).toContain((err as { code?: string }).code)
    expect(await usage(node, wb)).toEqual(before)
    expect(await wb.pins()).toHaveLength(0)
  })

  it('a rollback never deletes a block a concurrent add uses', async () => {
    const node = await makeNode()
    const ws = await node.join('concurrent', generateSwarmKey())
    const before = await usage(node, ws)
    const shared = randomBytes(4 * MiB)
    const extra = randomBytes(MiB)
    let bPassedShared!: () => void
    const bShared = new Promise<void>(resolve => { bPassedShared = resolve })
    let aFailed!: () => void
    const aDone = new Promise<void>(resolve => { aFailed = resolve })
    // A writes the shared chunks first, waits until B has read them too, then fails
    const a = ws.add((async function * () {
      yield * source(shared)
      await bShared
      throw new Error('A fails')
    })()).finally(() => { aFailed() })
    const b = ws.add((async function * () {
      await new Promise(resolve => setImmediate(resolve))
      yield * source(shared)
      bPassedShared()
      await aDone
      yield extra
    })())
    await expect(a).rejects.toThrow('A fails')
    const { cid } = await b
    expect(Buffer.compare(await read(ws, cid), Buffer.concat([shared, extra]))).toBe(0)
    expect((await ws.stat(cid, { offline: true })).local).toBe(true)
    const now = await usage(node, ws)
    expect(now.ledger).toBe(now.disk)
    await ws.unpin(cid)
    await ws.gc()
    expect(await usage(node, ws)).toEqual(before)
  })
})

describe('a failed pin and a concurrent add sharing blocks', () => {
  it('the pin rolls back what only it fetched; the add keeps every block it uses', async () => {
    const key = generateSwarmKey()
    const provider = await makeNode()
    const wp = await provider.join('pin-add', key)
    const shared = randomBytes(2 * MiB)
    const unique = randomBytes(2 * MiB)
    const f = await wp.add(Buffer.concat([shared, unique]), { profile: 'cidv1' })
    // the provider loses the last leaf (cidv1: 1 MiB raw leaves), so no peer can complete the pin
    const last = unique.subarray(unique.byteLength - MiB)
    const leaf = CID.createV1(raw.code, await sha256.digest(last))
    await unlink(createBlockLayout({ directory: join(provider.root, 'ipfs', 'workspaces', 'pin-add', 'blocks') }).pathOf(leaf))

    const node = await makeNode()
    const ws = await node.join('pin-add', key, { bootstrapPeers: wp.multiaddrs() })
    const pinning = ws.pin(f.cid, { timeout: 8000 }).then(() => undefined, (e: unknown) => e)
    const gData = Buffer.concat([shared, randomBytes(MiB)])
    const g = await ws.add(gData, { profile: 'cidv1' })
    const err = await pinning
    expect(err).toHaveProperty('code', 'ERR_NOT_FOUND')
    expect(await ws.isPinned(f.cid)).toBe(false)
    expect(Buffer.compare(await read(ws, g.cid), gData)).toBe(0)
    const st = await ws.stat(g.cid, { offline: true })
    expect(st.local).toBe(true)
    // what only the pin fetched is gone already (no gc): the store holds exactly G's blocks
    const now = await usage(node, ws)
    expect(now.disk).toBe(st.dagSize)
    expect(now.ledger).toBe(st.dagSize)
  })
})

describe('aborts are AbortedError whatever the timing', () => {
  it('signal already aborted and aborted mid-way, for add, pin, cat, get, stat, gc, verify, connect', async () => {
    const node = await makeNode()
    const ws = await node.join('aborts', generateSwarmKey())
    const { cid } = await ws.add(randomBytes(2 * MiB))
    const aborted = AbortSignal.abort()
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['add', async () => ws.add(randomBytes(10), { signal: aborted })],
      ['addFile', async () => ws.addFile('/etc/hostname', { signal: aborted })],
      ['pin', async () => ws.pin(cid, { signal: aborted })],
      ['unpin', async () => ws.unpin(cid, { signal: aborted })],
      ['cat', async () => { for await (const _ of ws.cat(cid, { signal: aborted })) { /* read */ } }],
      ['get', async () => ws.get(cid, join(dirs[0], 'out.bin'), { signal: aborted })],
      ['stat', async () => ws.stat(cid, { signal: aborted })],
      ['gc', async () => ws.gc({ signal: aborted })],
      ['verify', async () => ws.verify({ signal: aborted })],
      ['connect', async () => ws.connect(ws.multiaddrs()[0], { signal: aborted })]
    ]
    for (const [name, call] of calls) {
      const err = await call().then(() => undefined, (e: unknown) => e)
      expect(err, name).toHaveProperty('name', 'AbortedError')
      expect(err, name).toHaveProperty('code', 'ERR_ABORTED')
    }
    // mid-way: a pin waiting for a block no peer has
    const controller = new AbortController()
    const pending = ws.pin('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', { signal: controller.signal })
    queueMicrotask(() => { controller.abort() })
    const err = await pending.catch((e: unknown) => e)
    expect(err).toHaveProperty('name', 'AbortedError')
    expect(err).toHaveProperty('code', 'ERR_ABORTED')
    // mid-way: a cat stopped after the first chunk
    const catController = new AbortController()
    const catErr = await (async () => {
      for await (const _ of ws.cat(cid, { signal: catController.signal })) catController.abort()
    })().then(() => undefined, (e: unknown) => e)
    expect(catErr).toHaveProperty('name', 'AbortedError')
    expect(catErr).toHaveProperty('code', 'ERR_ABORTED')
  })
})
