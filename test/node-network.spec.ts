/**
 * Real workspace nodes on loopback TCP: sharing inside a workspace, isolation
 * between workspaces (other key, no key, two workspaces on one machine), key
 * rotation, and an audit of every outgoing TCP connection of the test run.
 */
import net from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import { generateSwarmKey, parseSwarmKey } from '../src/swarm-key/index.js'
import { stockLibp2pOptions } from './helpers/stock-libp2p.js'
import type { StorageNode, WorkspaceNode } from '../src/node/index.js'
import type { ManagedWorkspaceNode } from '../src/node/workspace-node.js'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const dirs: string[] = []
const nodes: StorageNode[] = []
const knownPorts = new Set<number>()
const dials: Array<{ host?: string, port?: number }> = []

async function makeNode (): Promise<StorageNode> {
  const dir = await mkdtemp(join(tmpdir(), 'node-net-'))
  dirs.push(dir)
  const node = await createStorageNode({
    storagePath: dir,
    quotaBytes: 256 * 2 ** 20,
    listenAddresses: LOOPBACK,
    blockTimeout: 1500,
    blockRetries: 1,
    dialTimeout: 1500
  })
  nodes.push(node)
  return node
}

function remember (ws: WorkspaceNode): WorkspaceNode {
  for (const ma of ws.multiaddrs()) knownPorts.add(Number(ma.split('/')[4]))
  return ws
}

async function join1 (node: StorageNode, id: string, key: string, peers?: WorkspaceNode[]): Promise<WorkspaceNode> {
  return remember(await node.join(id, key, { bootstrapPeers: peers?.flatMap(p => p.multiaddrs()) }))
}

async function text (ws: WorkspaceNode, cid: any, timeout = 5000): Promise<string> {
  let s = ''
  for await (const chunk of ws.cat(cid, { timeout })) s += new TextDecoder().decode(chunk)
  return s
}

/** Asserts `p` rejects, within `ms`, and returns the error. */
async function rejectsWithin (p: Promise<unknown>, ms: number): Promise<any> {
  const started = performance.now()
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err, 'expected a rejection').toBeDefined()
  expect(performance.now() - started).toBeLessThan(ms)
  return err
}

beforeAll(() => {
  const original = net.Socket.prototype.connect
  vi.spyOn(net.Socket.prototype, 'connect').mockImplementation(function (this: net.Socket, ...args: any[]) {
    const o = args[0]
    if (Array.isArray(o)) dials.push({ host: o[0]?.host, port: o[0]?.port })
    else if (typeof o === 'object' && o != null) dials.push({ host: o.host, port: Number(o.port) })
    else dials.push({ host: args[1], port: Number(o) })
    return (original as any).apply(this, args)
  })
})

afterAll(async () => {
  vi.restoreAllMocks()
  await Promise.allSettled(nodes.map(async n => n.stop()))
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

describe('workspace node network', () => {
  const key = generateSwarmKey()

  it('uses only the libp2p router and the bitswap broker', async () => {
    const a = await makeNode()
    const ws = await join1(a, 'only-libp2p', key) as ManagedWorkspaceNode
    const helia = ws.helia as any
    expect(helia.routing.routers.map((r: any) => r.name)).toEqual(['libp2p-router'])
    expect(helia.blockBrokers.map((b: any) => b.name)).toEqual(['bitswap'])
    const services = Object.keys((ws.helia.libp2p as any).services)
    expect(services).toEqual(['identify'])
    expect(ws.multiaddrs().every(m => m.startsWith('/ip4/127.0.0.1/tcp/') && m.includes(`/p2p/${ws.peerId}`))).toBe(true)
  })

  it('shares content inside a workspace, and a pinned copy outlives its source', async () => {
    const [a, b, c] = [await makeNode(), await makeNode(), await makeNode()]
    const wa = await join1(a, 'team', key)
    const wb = await join1(b, 'team', key, [wa])
    expect(wb.peers().map(p => p.peerId)).toContain(wa.peerId)
    // join is idempotent
    expect(await b.join('team', key)).toBe(wb)

    const { cid } = await wa.add(new TextEncoder().encode('shared inside the workspace'))
    const info = await wb.pin(cid, { timeout: 10_000 })
    expect(info.size).toBe(27)
    expect(await wb.isPinned(cid)).toBe(true)

    await a.leave('team')
    const wc = await join1(c, 'team', key, [wb])
    await wc.pin(cid, { timeout: 10_000 })
    expect(await text(wc, cid)).toBe('shared inside the workspace')
  })

  it('a node with another key cannot connect nor fetch', async () => {
    const [a, x] = [await makeNode(), await makeNode()]
    const wa = await join1(a, 'secret', key)
    const { cid } = await wa.add(new TextEncoder().encode('for members only'))
    const wx = await join1(x, 'secret', generateSwarmKey(), [wa])
    expect(wx.peers()).toEqual([])
    await rejectsWithin(wx.connect(wa.multiaddrs()[0], { signal: AbortSignal.timeout(1500) }), 3000)
    const err = await rejectsWithin(wx.pin(cid, { timeout: 2000 }), 4000)
    expect(err.code).toBe('ERR_NOT_FOUND')
    expect(wa.peers()).toEqual([])
  })

  it('a node with no protector cannot connect nor fetch', async () => {
    const a = await makeNode()
    const wa = await join1(a, 'closed', key)
    const { cid } = await wa.add(new TextEncoder().encode('not for the public'))
    const open = withBitswap(withLibp2pLight(createHeliaLight({}), stockLibp2pOptions()))
    await open.start()
    try {
      await rejectsWithin(open.libp2p.dial(multiaddr(wa.multiaddrs()[0]), { signal: AbortSignal.timeout(1500) }), 3000)
      await rejectsWithin((async () => {
        for await (const _ of open.blockstore.get(cid, { signal: AbortSignal.timeout(2000) })) { /* */ }
      })(), 4000)
      expect(wa.peers()).toEqual([])
    } finally {
      await open.stop()
    }
  })

  it('is wire compatible with @libp2p/pnet (same key)', async () => {
    const a = await makeNode()
    const wa = await join1(a, 'interop', key)
    const { cid } = await wa.add(new TextEncoder().encode('interop'))
    const stock = withBitswap(withLibp2pLight(createHeliaLight({}), stockLibp2pOptions(key)))
    await stock.start()
    try {
      await stock.libp2p.dial(multiaddr(wa.multiaddrs()[0]), { signal: AbortSignal.timeout(3000) })
      const chunks: Uint8Array[] = []
      for await (const c of stock.blockstore.get(cid, { signal: AbortSignal.timeout(5000) })) chunks.push(c)
      expect(Buffer.concat(chunks).byteLength).toBeGreaterThan(7)
    } finally {
      await stock.stop()
    }
  })

  it('a machine in two workspaces never serves one workspace\'s content to the other', async () => {
    const key2 = generateSwarmKey()
    const [m, p1, p2] = [await makeNode(), await makeNode(), await makeNode()]
    const m1 = await join1(m, 'ws-one', key)
    const m2 = await join1(m, 'ws-two', key2)
    expect(m1.peerId).not.toBe(m2.peerId)
    const w1 = await join1(p1, 'ws-one', key, [m1])
    const w2 = await join1(p2, 'ws-two', key2, [m2])
    expect(w2.peers().map(p => p.peerId)).toEqual([m2.peerId])

    const { cid } = await w1.add(new TextEncoder().encode('workspace one only'))
    await m1.pin(cid, { timeout: 10_000 })
    // ws2's peer reaches the machine through ws2, but ws1's content is not there
    const err = await rejectsWithin(w2.pin(cid, { timeout: 2000 }), 4000)
    expect(err.code).toBe('ERR_NOT_FOUND')
    await expect(m2.stat(cid, { offline: true })).rejects.toHaveProperty('code', 'ERR_NOT_FOUND')
    // nor can ws2's peer dial the machine's ws1 node
    await rejectsWithin(w2.connect(m1.multiaddrs()[0], { signal: AbortSignal.timeout(1500) }), 3000)
  })

  it('after a key rotation, old-key peers are cut off and new-key peers fetch as before', async () => {
    const newKey = generateSwarmKey()
    const [a, b, c] = [await makeNode(), await makeNode(), await makeNode()]
    const wa = await join1(a, 'rotating', key)
    await join1(b, 'rotating', key, [wa]) // b is a member under the old key; it rotates below
    const wc = await join1(c, 'rotating', key, [wa])
    const peerId = wa.peerId
    const { cid: before } = await wa.add(new TextEncoder().encode('added before the rotation'))

    const wa2 = remember(await a.rotateKey('rotating', newKey))
    expect(wa2.peerId).toBe(peerId)
    expect(wa2.keyFingerprint).toBe(parseSwarmKey(newKey).fingerprint)
    expect(a.workspace('rotating')).toBe(wa2)
    expect(await wa2.isPinned(before)).toBe(true)
    const wb2 = remember(await b.rotateKey('rotating', newKey, { bootstrapPeers: wa2.multiaddrs() }))

    const { cid: after } = await wa2.add(new TextEncoder().encode('added after the rotation'))
    await wb2.pin(after, { timeout: 10_000 })
    await wb2.pin(before, { timeout: 10_000 })

    expect(wc.peers().map(p => p.peerId)).not.toContain(peerId)
    await rejectsWithin(wc.connect(wa2.multiaddrs()[0], { signal: AbortSignal.timeout(1500) }), 3000)
    const err = await rejectsWithin(wc.pin(after, { timeout: 2000 }), 4000)
    expect(err.code).toBe('ERR_NOT_FOUND')
  })

  it('every TCP connection of this run went to a workspace peer on loopback', () => {
    expect(dials.length).toBeGreaterThan(0)
    for (const d of dials) {
      expect(d.host).toBe('127.0.0.1')
      expect(knownPorts.has(d.port as number), `dial to unknown port ${d.port}`).toBe(true)
    }
  })
})
