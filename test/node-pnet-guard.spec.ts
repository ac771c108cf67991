/**
 * The private network against outsiders, with real nodes over loopback TCP:
 * members connect while one outsider (127.0.0.2) holds 100 silent or
 * garbage-sending sockets open; a dial with another key fails fast with
 * `SwarmKeyMismatchError` on both sides; a libp2p node without pnet is
 * refused fast; the pure-JS cipher (forced) talks to libsodium and to
 * `@libp2p/pnet`.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import { workspaceLibp2pOptions } from '../src/node/libp2p-config.js'
import { createPnetMonitor } from '../src/node/pnet.js'
import { generateSwarmKey, parseSwarmKey } from '../src/swarm-key/index.js'
import { stockLibp2pOptions } from './helpers/stock-libp2p.js'
import type { StorageNode, WorkspaceNode } from '../src/node/index.js'
import type { PnetMonitor, SwarmKeyMismatch } from '../src/node/pnet.js'
import type { Libp2p } from '@libp2p/interface'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const dirs: string[] = []
const nodes: StorageNode[] = []
const libp2ps: Libp2p[] = []
const sockets: net.Socket[] = []

async function makeNode (): Promise<StorageNode> {
  const dir = await mkdtemp(join(tmpdir(), 'pnet-guard-'))
  dirs.push(dir)
  const node = await createStorageNode({ storagePath: dir, quotaBytes: 64 * 2 ** 20, listenAddresses: LOOPBACK, dialTimeout: 5000 })
  nodes.push(node)
  return node
}

/** A bare libp2p with the workspace configuration (`relaxed`: no per-host rate limit, as for an attacker paced below it). */
async function makeLibp2p (key: string, monitor?: PnetMonitor, relaxed = false): Promise<Libp2p> {
  const options = workspaceLibp2pOptions({ swarmKey: parseSwarmKey(key), listenAddresses: LOOPBACK, pnetMonitor: monitor })
  if (relaxed) options.connectionManager = { ...options.connectionManager, inboundConnectionThreshold: 10_000 }
  const node = await createLibp2p(options as any)
  libp2ps.push(node)
  return node
}

async function nextMismatch (monitor: PnetMonitor): Promise<SwarmKeyMismatch> {
  return new Promise(resolve => { monitor.addEventListener('mismatch', (e) => { resolve(e.detail) }, { once: true }) })
}

/** `n` sockets from 127.0.0.2 to `port`, open once this resolves; every third sends garbage, every third a partial nonce. */
async function outsider (port: number, n: number): Promise<net.Socket[]> {
  const opened = await Promise.all(Array.from({ length: n }, async (_, i) => new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' })
    sockets.push(s)
    // the node closing or resetting the outsider's sockets is expected
    s.on('error', () => { s.destroy() })
    s.once('connect', () => {
      if (i % 3 === 1) s.write(randomBytes(24 + 64))
      if (i % 3 === 2) s.write(randomBytes(10))
      resolve(s)
    })
    s.once('close', () => { reject(new Error('closed before connecting')) })
  })))
  return opened
}

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy()
})

afterAll(async () => {
  await Promise.allSettled([...nodes.map(async n => n.stop()), ...libp2ps.map(async n => n.stop())])
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

describe('private network against outsiders', () => {
  const key = generateSwarmKey()

  it('a member connects while one outsider holds 100 silent or garbage sockets (no rate limit to help)', async () => {
    const target = await makeLibp2p(key, undefined, true)
    const port = Number(target.getMultiaddrs()[0].toString().split('/')[4])
    const held = await outsider(port, 100)
    expect(held.length).toBe(100)
    const member = await makeLibp2p(key)
    // three dials in a row: none is refused while the outsider's sockets are open
    for (let i = 0; i < 3; i++) {
      const conn = await member.dial(target.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) })
      expect(conn.remotePeer.equals(target.peerId)).toBe(true)
      await conn.close()
    }
    expect(sockets.filter(s => !s.destroyed).length).toBeGreaterThan(0)
  })

  it('a workspace node with its defaults accepts a member during the same attack', async () => {
    const [a, b] = [await makeNode(), await makeNode()]
    const wa = await a.join('guarded', key)
    const port = Number(wa.multiaddrs()[0].split('/')[4])
    await outsider(port, 100)
    const wb = await b.join('guarded', key)
    await wb.connect(wa.multiaddrs()[0], { signal: AbortSignal.timeout(5000) })
    expect(wb.peers().map(p => p.peerId)).toContain(wa.peerId)
    expect(wb.pnet?.handshakes).toBeGreaterThan(0)
  })

  it('a dial with another key fails fast with SwarmKeyMismatchError on both sides', async () => {
    const [a, x] = [await makeNode(), await makeNode()]
    const wa = await a.join('mismatch', key)
    const wx = await x.join('mismatch', generateSwarmKey())
    const warnings: string[] = []
    ;(wa.pnet as PnetMonitor).warn = (m) => { warnings.push(m) }
    const seen = nextMismatch(wa.pnet as PnetMonitor)
    const started = performance.now()
    const err = await wx.connect(wa.multiaddrs()[0], { signal: AbortSignal.timeout(10_000) }).then(() => undefined, (e: any) => e)
    expect(performance.now() - started).toBeLessThan(2000)
    expect(err?.name).toBe('SwarmKeyMismatchError')
    expect(err?.code).toBe('ERR_SWARM_KEY_MISMATCH')
    expect(err?.message).toContain('127.0.0.1')
    const accepted = await seen
    expect(accepted.direction).toBe('inbound')
    expect(accepted.reason).toBe('garbage')
    expect(accepted.remoteAddr).toContain('/ip4/127.0.0.1/tcp/')
    expect(warnings.length).toBe(1)
    expect(warnings[0]).toContain(accepted.remoteAddr)
    expect(wx.pnet?.mismatches).toBe(1)
    expect(wx.pnet?.lastMismatch?.direction).toBe('outbound')
    expect(wa.peers()).toEqual([])
  })

  it('the listener warns once per host per interval, with the address and never the key', async () => {
    const warnings: string[] = []
    const monitor = createPnetMonitor({ warn: (m) => { warnings.push(m) } })
    const target = await makeLibp2p(key, monitor)
    const other = generateSwarmKey()
    const dialer = await makeLibp2p(other)
    for (let i = 0; i < 3; i++) {
      const seen = nextMismatch(monitor)
      await expect(dialer.dial(target.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) })).rejects.toThrow()
      await seen
    }
    expect(monitor.mismatches).toBe(3)
    expect(warnings.length).toBe(1)
    expect(warnings[0]).toContain('127.0.0.1')
    expect(warnings[0]).not.toContain(key.split('\n')[2])
    expect(warnings[0]).not.toContain(other.split('\n')[2])
  })

  it('a libp2p node without pnet is refused fast, and counted', async () => {
    const monitor = createPnetMonitor()
    const target = await makeLibp2p(key, monitor)
    const open = await createLibp2p(stockLibp2pOptions())
    libp2ps.push(open)
    const seen = nextMismatch(monitor)
    const started = performance.now()
    await expect(open.dial(target.getMultiaddrs()[0], { signal: AbortSignal.timeout(10_000) })).rejects.toThrow()
    expect(performance.now() - started).toBeLessThan(2000)
    expect((await seen).reason).toBe('no-pnet')
  })

  it('the pure-JS cipher (forced) talks to libsodium and to @libp2p/pnet', async () => {
    process.env.OTHERTHING_PNET_CIPHER = 'js'
    let js: Libp2p
    try {
      js = await makeLibp2p(key)
    } finally {
      delete process.env.OTHERTHING_PNET_CIPHER
    }
    const native = await makeNode()
    const wn: WorkspaceNode = await native.join('ciphers', key)
    const conn = await js.dial(multiaddr(wn.multiaddrs()[0]), { signal: AbortSignal.timeout(5000) })
    expect(conn.remotePeer.toString()).toBe(wn.peerId)
    const stock = await createLibp2p(stockLibp2pOptions(key))
    libp2ps.push(stock)
    const c2 = await stock.dial(js.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) })
    expect(c2.remotePeer.equals(js.peerId)).toBe(true)
    // the fallback was in use (noise ran through it both ways to get the peer ids above)
    expect((js as any).components.connectionProtector.cipher).toBe('js')
  })
})
