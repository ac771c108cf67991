/**
 * The storage node: restarts keep peer ids, pins, content and quota usage; the
 * quota holds end to end; no swarm key ever reaches the disk; bandwidth limits
 * slow transfers; verify repairs corrupt blocks; named errors.
 */
import { randomBytes } from 'node:crypto'
import { readdir, readFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import { generateSwarmKey, parseSwarmKey } from '../src/swarm-key/index.js'
import type { StorageNode, StorageNodeInit } from '../src/node/index.js'

const dirs: string[] = []
const open: StorageNode[] = []

async function tempDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'node-storage-'))
  dirs.push(d)
  return d
}

async function makeNode (storagePath: string, init: Partial<StorageNodeInit> = {}): Promise<StorageNode> {
  const node = await createStorageNode({
    storagePath,
    quotaBytes: 64 * 2 ** 20,
    listenAddresses: ['/ip4/127.0.0.1/tcp/0'],
    blockTimeout: 1500,
    blockRetries: 1,
    dialTimeout: 1500,
    ...init
  })
  open.push(node)
  return node
}

async function * files (dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield * files(p)
    else if (e.isFile()) yield p
  }
}

afterAll(async () => {
  await Promise.allSettled(open.map(async n => n.stop()))
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

describe('storage node', () => {
  it('restart: same peer ids, pins, content and quota usage; no key on disk', async () => {
    const key = generateSwarmKey()
    const parsed = parseSwarmKey(key)
    const path = await tempDir()
    let node = await makeNode(path)
    const ws = await node.join('persist', key)
    const peerId = ws.peerId
    const data = randomBytes(700_000)
    const { cid } = await ws.add(data, { name: 'data.bin' })
    const other = await makeNode(await tempDir())
    const wo = await other.join('persist', key, { bootstrapPeers: ws.multiaddrs() })
    await wo.pin(cid, { timeout: 10_000 })
    const used = (await node.stats()).usedBytes
    expect(used).toBeGreaterThan(700_000)
    await node.stop()
    await other.stop()

    // the swarm key never reaches the disk, in any encoding
    const needles = [
      Buffer.from(parsed.hex), Buffer.from(parsed.hex.toUpperCase()), Buffer.from(parsed.bytes),
      Buffer.from(Buffer.from(parsed.bytes).toString('base64'))
    ]
    for (const root of [path, other.root]) {
      for await (const file of files(root)) {
        const content = await readFile(file)
        for (const needle of needles) expect(content.includes(needle), `${file} contains the key`).toBe(false)
      }
    }

    node = await makeNode(path)
    expect((await node.stats()).usedBytes).toBe(used)
    const again = await node.join('persist', key)
    expect(again.peerId).toBe(peerId)
    expect((await again.pins()).map(p => [p.cid.toString(), p.size, p.name])).toEqual([[cid.toString(), 700_000, 'data.bin']])
    const chunks: Uint8Array[] = []
    for await (const c of again.cat(cid)) chunks.push(c)
    expect(Buffer.compare(Buffer.concat(chunks), data)).toBe(0)
    expect((await node.stats()).usedBytes).toBe(used)
  })

  it('quota: a pin bigger than the remaining quota fails and usage returns to what it was', async () => {
    const key = generateSwarmKey()
    const source = await makeNode(await tempDir(), { quotaBytes: 256 * 2 ** 20 })
    const ws = await source.join('quota', key)
    const small = await ws.add(randomBytes(200_000))
    const big = await ws.add(randomBytes(3 * 2 ** 20))

    // bitswap does not resend a block to a peer within 5 s: allow retries past that window
    const node = await makeNode(await tempDir(), { quotaBytes: 2 * 2 ** 20, blockTimeout: 2000, blockRetries: 4 })
    const wq = await node.join('quota', key, { bootstrapPeers: ws.multiaddrs() })
    await wq.pin(small.cid, { timeout: 10_000 })
    const before = (await node.stats()).usedBytes
    const err = await wq.pin(big.cid, { timeout: 20_000 }).catch(e => e)
    expect(err?.code).toBe('ERR_QUOTA_EXCEEDED')
    expect((await node.stats()).usedBytes).toBe(before)
    expect(await wq.isPinned(small.cid)).toBe(true)
    expect(await wq.isPinned(big.cid)).toBe(false)
    // a local add over the quota fails the same way
    await expect(wq.add(randomBytes(3 * 2 ** 20))).rejects.toHaveProperty('code', 'ERR_QUOTA_EXCEEDED')
    // raising the quota lets the same pin through
    await node.setQuota(8 * 2 ** 20)
    expect(node.quotaBytes).toBe(8 * 2 ** 20)
    await wq.pin(big.cid, { timeout: 20_000 })
  })

  it('quota: unpinned cached blocks are collected to make room', async () => {
    const key = generateSwarmKey()
    const node = await makeNode(await tempDir(), { quotaBytes: 3 * 2 ** 20, gcWatermark: 1 })
    const ws = await node.join('gc', key)
    await ws.add(randomBytes(2 * 2 ** 20), { pin: false })
    // needs gc of the unpinned 2 MiB to fit
    const { cid } = await ws.add(randomBytes(2 * 2 ** 20))
    expect(await ws.isPinned(cid)).toBe(true)
    expect((await node.stats()).usedBytes).toBeLessThanOrEqual(3 * 2 ** 20)
  })

  it('pin with no peer fails with ContentNotFoundError, leaving usage unchanged', async () => {
    const node = await makeNode(await tempDir())
    const ws = await node.join('lonely', generateSwarmKey())
    const before = (await node.stats()).usedBytes
    const started = performance.now()
    await expect(ws.pin('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', { timeout: 800 })).rejects.toHaveProperty('code', 'ERR_NOT_FOUND')
    expect(performance.now() - started).toBeLessThan(3000)
    const controller = new AbortController()
    setTimeout(() => { controller.abort() }, 200)
    await expect(ws.pin('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', { signal: controller.signal })).rejects.toHaveProperty('code', 'ERR_ABORTED')
    expect((await node.stats()).usedBytes).toBe(before)
  })

  it('bandwidth limits slow a transfer', async () => {
    const key = generateSwarmKey()
    const source = await makeNode(await tempDir(), { bandwidth: { upBytesPerSecond: 1024 * 1024 } })
    const ws = await source.join('slow', key)
    const { cid } = await ws.add(randomBytes(2 * 2 ** 20))
    const node = await makeNode(await tempDir())
    const wd = await node.join('slow', key, { bootstrapPeers: ws.multiaddrs() })
    const started = performance.now()
    await wd.pin(cid, { timeout: 20_000 })
    const limited = performance.now() - started
    // the same transfer from an unlimited source
    const key2 = generateSwarmKey()
    const free = await makeNode(await tempDir())
    const wf = await free.join('fast', key2)
    const { cid: cid2 } = await wf.add(randomBytes(2 * 2 ** 20))
    const wd2 = await (await makeNode(await tempDir())).join('fast', key2, { bootstrapPeers: wf.multiaddrs() })
    const t0 = performance.now()
    await wd2.pin(cid2, { timeout: 20_000 })
    const unlimited = performance.now() - t0
    // 2 MiB at 1 MiB/s (with a 256 KiB burst) needs about 1.75 s; socket buffers let some through early
    expect(limited).toBeGreaterThan(1000)
    expect(limited).toBeGreaterThan(unlimited * 2)
  })

  it('verify removes corrupt blocks and fetches them again from peers', async () => {
    const key = generateSwarmKey()
    const source = await makeNode(await tempDir())
    const ws = await source.join('verify', key)
    const { cid } = await ws.add(randomBytes(600_000))
    const node = await makeNode(await tempDir(), { blockTimeout: 2000, blockRetries: 4 })
    const wv = await node.join('verify', key, { bootstrapPeers: ws.multiaddrs() })
    await wv.pin(cid, { timeout: 10_000 })
    let corrupted = 0
    for await (const f of files(join(node.root, 'ipfs', 'workspaces', 'verify', 'blocks'))) {
      if (f.endsWith('.data') && corrupted < 2) {
        const bytes = await readFile(f)
        bytes[10] ^= 0xff
        await writeFile(f, bytes)
        corrupted++
      }
    }
    const result = await wv.verify()
    expect(result.checked).toBeGreaterThanOrEqual(3)
    expect(result.corrupt).toHaveLength(2)
    expect(result.refetched.map(String)).toEqual([cid.toString()])
    expect(result.failed).toEqual([])
    expect((await wv.verify()).corrupt).toEqual([])
  })

  it('named errors for bad ids, bad keys, unknown workspaces', async () => {
    const node = await makeNode(await tempDir())
    await expect(node.join('../etc', generateSwarmKey())).rejects.toHaveProperty('code', 'ERR_INVALID_WORKSPACE_ID')
    await expect(node.join('fine', 'not a key')).rejects.toHaveProperty('code', 'ERR_INVALID_SWARM_KEY')
    expect(() => node.workspace('nope')).toThrow(expect.objectContaining({ code: 'ERR_WORKSPACE_NOT_JOINED' }))
    await expect(node.rotateKey('nope', generateSwarmKey())).rejects.toHaveProperty('code', 'ERR_WORKSPACE_NOT_JOINED')
    await expect(node.setQuota(-1)).rejects.toHaveProperty('code', 'ERR_INVALID_ARGUMENT')
    await expect(createStorageNode({ storagePath: await tempDir(), quotaBytes: Number.NaN })).rejects.toHaveProperty('code', 'ERR_INVALID_ARGUMENT')

    const ws = await node.join('leaving', generateSwarmKey())
    await ws.add(randomBytes(10_000))
    expect(node.workspaces()).toHaveLength(1)
    await node.leave('leaving', { purge: true })
    expect(node.workspaces()).toHaveLength(0)
    expect((await node.stats()).usedBytes).toBe(0)
    await expect(ws.pins()).rejects.toHaveProperty('code', 'ERR_NOT_STARTED')
    await node.stop()
    await expect(node.join('late', generateSwarmKey())).rejects.toHaveProperty('code', 'ERR_NOT_STARTED')
  })
})
