/**
 * The Kubo RPC subset at /api/v0, driven by the real `kubo-rpc-client` over
 * real HTTP against a real storage node: CIDs must equal Kubo's `ipfs add`.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { create } from 'kubo-rpc-client'
import type { KuboRPCClient } from 'kubo-rpc-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode } from '../src/node/index.js'
import { buildApp } from '../src/runner/http/index.js'
import type { HttpApp } from '../src/runner/http/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'

const TOKEN = 'kubo-test-token-0123'
const HELLO_CID = 'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD'
const MiB = 1024 * 1024

let dir: string
let node: StorageNode
let app: HttpApp
let url: string
let ipfs: KuboRPCClient

async function concat (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of source) chunks.push(c)
  return Buffer.concat(chunks)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'http-kubo-'))
  node = await createStorageNode({ storagePath: dir, quotaBytes: 256 * MiB, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0 })
  await node.join('kubo-ws', generateSwarmKey())
  app = buildApp({ storageNode: node, apiToken: TOKEN })
  await app.listen({ host: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  ipfs = create({ url, headers: { authorization: `Bearer ${TOKEN}` } })
})

afterAll(async () => {
  await app?.close()
  await node?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('kubo-rpc-client against /api/v0', () => {
  it('add gives Kubo CIDs (CIDv0 default, CIDv1 with raw leaves)', async () => {
    const res = await ipfs.add('hello world')
    expect(res.cid.toString()).toBe(HELLO_CID)
    expect(res.path).toBe(HELLO_CID)
    const v1 = await ipfs.add('hello world', { cidVersion: 1 })
    // Kubo: `ipfs add --cid-version=1` of 'hello world'
    expect(v1.cid.toString()).toBe('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e')
    const named = await ipfs.add({ path: 'greeting.txt', content: 'hello world' })
    expect(named.path).toBe('greeting.txt')
    expect(named.cid.toString()).toBe(HELLO_CID)
  })

  it('add streams progress and handles a multi-chunk file', async () => {
    const data = randomBytes(3 * MiB + 5)
    const progress: number[] = []
    const res = await ipfs.add(data, { progress: (bytes: number) => { progress.push(bytes) }, chunker: 'size-262144', rawLeaves: false })
    expect(res.size).toBeGreaterThan(data.length)
    expect(progress.length).toBeGreaterThan(1)
    expect(progress[progress.length - 1]).toBe(data.length)
    const back = await concat(ipfs.cat(res.cid))
    expect(back.equals(data)).toBe(true)
    const slice = await concat(ipfs.cat(res.cid, { offset: MiB - 3, length: 10 }))
    expect(slice.equals(data.subarray(MiB - 3, MiB + 7))).toBe(true)
  })

  it('cat returns the content', async () => {
    expect((await concat(ipfs.cat(HELLO_CID))).toString()).toBe('hello world')
  })

  it('pin ls / rm / add', async () => {
    const pins = []
    for await (const p of ipfs.pin.ls()) pins.push(p)
    expect(pins.map(p => p.cid.toString())).toContain(HELLO_CID)
    expect(pins.every(p => p.type === 'recursive')).toBe(true)

    const removed = await ipfs.pin.rm(HELLO_CID)
    expect(removed.toString()).toBe(HELLO_CID)
    await expect(ipfs.pin.rm(HELLO_CID)).rejects.toThrow(/not pinned/)
    const added = await ipfs.pin.add(HELLO_CID)
    expect(added.toString()).toBe(HELLO_CID)
    const one = []
    for await (const p of ipfs.pin.ls({ paths: [HELLO_CID] })) one.push(p)
    expect(one).toHaveLength(1)
  })

  it('repo stat, repo gc, id, version, swarm peers', async () => {
    const stat = await ipfs.repo.stat()
    expect(stat.storageMax).toBe(BigInt(256 * MiB))
    expect(stat.repoSize > 0n).toBe(true)
    expect(stat.numObjects > 0n).toBe(true)
    expect(stat.repoPath).toContain('kubo-ws')
    for await (const r of ipfs.repo.gc()) expect(r.err).toBeUndefined()
    const id = await ipfs.id()
    expect(id.id.toString()).toBe(node.workspace('kubo-ws').peerId)
    expect(id.addresses.length).toBeGreaterThan(0)
    const version = await ipfs.version()
    expect(typeof version.version).toBe('string')
    expect(await ipfs.swarm.peers()).toEqual([])
  })

  it('errors keep Kubo\'s shape', async () => {
    await expect(concat(ipfs.cat('not-a-cid'))).rejects.toThrow(/Invalid CID/)
    const res = await fetch(`${url}/api/v0/cat?arg=not-a-cid`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ Message: expect.any(String), Code: 1, Type: 'error' })
    const get = await fetch(`${url}/api/v0/version`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(get.status).toBe(405)
    expect(await get.json()).toMatchObject({ Type: 'error' })
    const unknown = await fetch(`${url}/api/v0/dht/query`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
    expect(unknown.status).toBe(404)
    const noAuth = create({ url })
    await expect(noAuth.version()).rejects.toThrow()
    const missing = await fetch(`${url}/api/v0/cat?arg=bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy&timeout=300ms`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
    expect(missing.status).toBe(500)
    expect(await missing.json()).toMatchObject({ Code: 0, Type: 'error' })
  })
})
