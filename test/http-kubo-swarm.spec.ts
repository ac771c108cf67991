/**
 * Kubo RPC swarm commands and the unknown-command answer, driven by the real
 * `kubo-rpc-client` against two real storage nodes of one workspace over
 * loopback TCP.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { KuboRPCClient } from 'kubo-rpc-client'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode } from '../src/node/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'
import { MiB, startKuboApi } from './helpers/kubo.js'
import type { KuboApi } from './helpers/kubo.js'

const TOKEN = 'kubo-swarm-token-0123'

let api: KuboApi
let bDir: string
let b: StorageNode
let ipfs: KuboRPCClient

beforeAll(async () => {
  const key = generateSwarmKey()
  // a serves the API; b is the other workspace peer it dials
  api = await startKuboApi({ name: 'kubo-swarm-a', workspace: 'swarm-ws', token: TOKEN, quotaBytes: 64 * MiB, swarmKey: key })
  ipfs = api.ipfs
  bDir = await mkdtemp(join(tmpdir(), 'kubo-swarm-b-'))
  b = await createStorageNode({ storagePath: bDir, quotaBytes: 64 * MiB, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0 })
  await b.join('swarm-ws', key)
})

afterAll(async () => {
  await api?.close()
  await b?.stop()
  if (bDir != null) await rm(bDir, { recursive: true, force: true })
})

describe('kubo-rpc-client swarm commands', () => {
  it('swarm.connect dials a workspace peer, swarm.addrs lists it, swarm.localAddrs gives ours', async () => {
    const peerB = b.workspace('swarm-ws')
    const address = peerB.multiaddrs()[0]
    const strings = await ipfs.swarm.connect(multiaddr(address))
    expect(strings).toEqual([`connect ${peerB.peerId} success`])

    const addrs = await ipfs.swarm.addrs()
    const entry = addrs.find(p => p.id.toString() === peerB.peerId)
    expect(entry).toBeDefined()
    expect(entry?.addrs.length).toBeGreaterThan(0)
    expect(entry?.addrs.every(m => !m.toString().includes('/p2p/'))).toBe(true)

    const peers = await ipfs.swarm.peers()
    expect(peers.map(p => p.peer.toString())).toContain(peerB.peerId)

    const local = await ipfs.swarm.localAddrs()
    expect(local.map(m => m.toString())).toEqual(api.ws.multiaddrs().map(m => m.replace(/\/p2p\/[^/]+$/, '')))
  })

  it('swarm.connect to a bad address answers a Kubo error', async () => {
    const res = await api.post('swarm/connect?arg=not-a-multiaddr')
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ Message: expect.stringMatching(/multiaddr/), Code: 1, Type: 'error' })
    const none = await api.post('swarm/connect')
    expect(none.status).toBe(400)
  })
})

describe('a command we do not serve', () => {
  it('answers what Kubo answers: 404, text/plain "404 page not found"', async () => {
    for (const path of ['dht/query', 'name/publish', 'files/ls', 'nope', 'swarm/nope', 'block']) {
      const res = await api.post(`${path}?arg=x`)
      expect(res.status, path).toBe(404)
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
      expect(await res.text()).toBe('404 page not found\n')
    }
    // the client reports it the way it reports Kubo's own answer
    await expect(ipfs.name.publish('/ipfs/bafkqaaa')).rejects.toThrow('404 page not found')
  })

  it('still needs the token', async () => {
    const res = await fetch(`${api.url}/api/v0/dht/query`, { method: 'POST' })
    expect(res.status).toBe(401)
  })
})
