/**
 * The Kubo RPC subset at /api/v0, driven by the real `kubo-rpc-client` over
 * real HTTP against a real storage node: CIDs must equal Kubo's `ipfs add`.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { KuboRPCClient } from 'kubo-rpc-client'
import { create } from 'kubo-rpc-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KUBO_COMMANDS } from '../src/runner/http/kubo/index.js'
import { MiB, startKuboApi } from './helpers/kubo.js'
import type { KuboApi } from './helpers/kubo.js'
import { concat } from './helpers/streams.js'

const TOKEN = 'kubo-test-token-0123'
const HELLO_CID = 'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD'

let api: KuboApi
let url: string
let ipfs: KuboRPCClient

beforeAll(async () => {
  api = await startKuboApi({ name: 'http-kubo', workspace: 'kubo-ws', token: TOKEN, quotaBytes: 256 * MiB })
  ;({ url, ipfs } = api)
})

afterAll(async () => {
  await api?.close()
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
    expect(id.id.toString()).toBe(api.ws.peerId)
    expect(id.addresses.length).toBeGreaterThan(0)
    const version = await ipfs.version()
    expect(typeof version.version).toBe('string')
    expect(await ipfs.swarm.peers()).toEqual([])
  })

  it('errors keep Kubo\'s shape', async () => {
    await expect(concat(ipfs.cat('not-a-cid'))).rejects.toThrow(/Invalid CID/)
    const res = await api.post('cat?arg=not-a-cid')
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ Message: expect.any(String), Code: 1, Type: 'error' })
    const get = await fetch(`${url}/api/v0/version`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(get.status).toBe(405)
    expect(await get.json()).toMatchObject({ Type: 'error' })
    const unknown = await api.post('dht/query')
    expect(unknown.status).toBe(404)
    const noAuth = create({ url })
    await expect(noAuth.version()).rejects.toThrow()
    const missing = await api.post('cat?arg=bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy&timeout=300ms')
    expect(missing.status).toBe(500)
    expect(await missing.json()).toMatchObject({ Code: 0, Type: 'error' })
  })
})

describe('what is served', () => {
  /** The backquoted commands of the first paragraph of `file` that starts with `lead`. */
  async function listed (file: string, lead: string): Promise<string[]> {
    const text = (await readFile(new URL(`../${file}`, import.meta.url), 'utf8')).replace(/\r/g, '')
    const start = text.indexOf(lead)
    expect(start, `${file}: "${lead}"`).toBeGreaterThanOrEqual(0)
    const paragraph = text.slice(start, text.indexOf('\n\n', start))
    const list = paragraph.slice(paragraph.indexOf('):') + 2, paragraph.indexOf('.', paragraph.indexOf('swarm/addrs/local')))
    return [...list.matchAll(/`([a-z/]+)`/g)].map(m => m[1])
  }

  it('README and docs/http-api.md list exactly KUBO_COMMANDS', async () => {
    const expected = [...KUBO_COMMANDS].sort()
    expect((await listed('README.md', 'Kubo tools and `kubo-rpc-client` talk to')).sort()).toEqual(expected)
    expect((await listed('docs/http-api.md', 'Served, exactly')).sort()).toEqual(expected)
    const table = await readFile(new URL('../docs/http-api.md', import.meta.url), 'utf8')
    for (const command of KUBO_COMMANDS) expect(table, command).toContain(`| \`${command}\` |`)
  })

  it('every listed command is routed (none answers the unknown-command 404)', async () => {
    for (const command of KUBO_COMMANDS) {
      if (command === 'repo/gc') continue // routed, but it would collect the other tests' blocks
      const res = await api.post(command)
      await res.arrayBuffer()
      expect(res.status, command).not.toBe(404)
    }
  })
})
