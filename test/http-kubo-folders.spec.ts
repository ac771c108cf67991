/**
 * The Kubo RPC folder, block, DAG and refs commands, each driven by the real
 * `kubo-rpc-client` over real HTTP against a real storage node: folders
 * added with `addAll` + `globSource` get the CIDs the node's own
 * `addDirectory` (checked against Kubo's `ipfs add -r`) gives.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { CarReader } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import { create, globSource } from 'kubo-rpc-client'
import type { KuboRPCClient } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import { extract } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode, WorkspaceNode } from '../src/node/index.js'
import { buildApp } from '../src/runner/http/index.js'
import type { HttpApp } from '../src/runner/http/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'

const TOKEN = 'kubo-folders-token-01'
const MiB = 1024 * 1024

let dir: string
let tree: string
let node: StorageNode
let ws: WorkspaceNode
let app: HttpApp
let url: string
let ipfs: KuboRPCClient

async function concat (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of source) chunks.push(c)
  return Buffer.concat(chunks)
}

async function all<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of source) out.push(x)
  return out
}

/** The entries of a tar: path -> content ('' for folders, marked with a trailing /). */
async function untar (bytes: Buffer): Promise<Map<string, string>> {
  const ex = extract()
  const out = new Map<string, string>()
  const done = (async () => {
    for await (const entry of ex) {
      const body = await concat(entry as AsyncIterable<Uint8Array>)
      out.set(entry.header.type === 'directory' ? entry.header.name.replace(/\/?$/, '/') : entry.header.name, body.toString())
    }
  })()
  ex.end(bytes)
  await done
  return out
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'http-kubo-folders-'))
  tree = join(dir, 'site')
  await mkdir(join(tree, 'docs/deep'), { recursive: true })
  await mkdir(join(tree, 'empty'))
  await writeFile(join(tree, 'index.html'), '<h1>hi</h1>\n')
  await writeFile(join(tree, 'docs/a.txt'), 'a'.repeat(1000))
  await writeFile(join(tree, 'docs/deep/big.bin'), Buffer.alloc(600 * 1024, 7))
  node = await createStorageNode({ storagePath: join(dir, 'node'), quotaBytes: 128 * MiB, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0 })
  ws = await node.join('kubo-folders', generateSwarmKey())
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

describe('add of folders', () => {
  let root: CID

  it('addAll(globSource) with wrapWithDirectory gives the CIDs of addDirectory, every entry, root last', async () => {
    const expected = await ws.addDirectory(tree, { pin: false })
    const added = await all(ipfs.addAll(globSource(tree, '**/*'), { wrapWithDirectory: true }))
    const paths = added.map(e => e.path)
    expect(paths).toEqual(expect.arrayContaining(['index.html', 'docs/a.txt', 'docs/deep/big.bin', 'docs/deep', 'docs', 'empty']))
    const wrapper = added[added.length - 1]
    expect(wrapper.path).toBe('')
    // the wrapper holds what `site` holds: its CID is the folder's
    expect(wrapper.cid.toString()).toBe(expected.cid.toString())
    root = wrapper.cid
    expect(await ws.isPinned(root)).toBe(true)
    expect(wrapper.size).toBeGreaterThan(1000 + 600 * 1024)
  })

  it('addAll of entries with paths keeps the folder (no wrapping needed)', async () => {
    const added = await all(ipfs.addAll([
      { path: 'd/sub/video.mp4', content: Buffer.from('not really a video') },
      { path: 'd/readme.txt', content: 'hello' }
    ]))
    const top = added[added.length - 1]
    expect(top.path).toBe('d')
    const names = (await all(ipfs.ls(top.cid))).map(e => `${e.name}:${e.type}`).sort()
    expect(names).toEqual(['readme.txt:file', 'sub:dir'])
    expect((await concat(ipfs.cat(`/ipfs/${top.cid.toString()}/sub/video.mp4`))).toString()).toBe('not really a video')
  })

  it('ls lists a directory with names, CIDs, sizes and types', async () => {
    const entries = await all(ipfs.ls(root))
    const byName = new Map(entries.map(e => [e.name, e]))
    expect([...byName.keys()].sort()).toEqual(['docs', 'empty', 'index.html'])
    expect(byName.get('docs')?.type).toBe('dir')
    expect(byName.get('index.html')).toMatchObject({ type: 'file', size: 12, path: `${root.toString()}/index.html` })
    const deep = await all(ipfs.ls(`${root.toString()}/docs/deep`))
    expect(deep.map(e => [e.name, e.size])).toEqual([['big.bin', 600 * 1024]])
  })

  it('get answers a tar of the whole folder, or of one file by path', async () => {
    const files = await untar(await concat(ipfs.get(root)))
    const name = root.toString()
    expect(files.get(`${name}/index.html`)).toBe('<h1>hi</h1>\n')
    expect(files.get(`${name}/docs/a.txt`)).toBe('a'.repeat(1000))
    expect(files.get(`${name}/docs/deep/big.bin`)?.length).toBe(600 * 1024)
    expect(files.has(`${name}/empty/`)).toBe(true)
    const one = await untar(await concat(ipfs.get(`${name}/docs/a.txt`)))
    expect([...one.keys()]).toEqual(['a.txt'])
  })

  it('a missing path is a Kubo error', async () => {
    await expect(all(ipfs.ls(`${root.toString()}/nope`))).rejects.toThrow()
    const res = await fetch(`${url}/api/v0/ls?arg=${root.toString()}/nope`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(500)
    expect(await res.json()).toMatchObject({ Code: 0, Type: 'error' })
  })

  it('refs lists the links, recursive and unique ones too; refs/local lists stored blocks', async () => {
    const direct = (await all(ipfs.refs(root))).map(r => r.ref)
    expect(direct).toHaveLength(3)
    const recursive = (await all(ipfs.refs(root, { recursive: true, unique: true }))).map(r => r.ref)
    expect(recursive.length).toBeGreaterThan(direct.length)
    expect(new Set(recursive).size).toBe(recursive.length)
    // the blockstore is keyed by multihash (as Kubo's): compare multihashes
    const mh = (ref: string): string => Buffer.from(CID.parse(ref).multihash.bytes).toString('hex')
    const local = new Set((await all(ipfs.refs.local())).map(r => mh(r.ref)))
    for (const r of recursive) expect(local.has(mh(r))).toBe(true)
  })

  it('dag export streams a CAR of the whole DAG; dag import brings it back after unpin + gc', async () => {
    const car = await concat(ipfs.dag.export(root))
    const reader = await CarReader.fromBytes(car)
    expect((await reader.getRoots()).map(String)).toEqual([root.toString()])
    let blocks = 0
    for await (const _ of reader.blocks()) blocks++
    expect(blocks).toBeGreaterThan(5)

    await ipfs.pin.rm(root)
    await all(ipfs.repo.gc())
    await expect(ws.blockStat(root, { offline: true })).rejects.toThrow()

    const imported = await all(ipfs.dag.import([car]))
    expect(imported.map(r => r.root.cid.toString())).toEqual([root.toString()])
    expect(await ws.isPinned(root)).toBe(true)
    expect((await concat(ipfs.cat(`${root.toString()}/index.html`))).toString()).toBe('<h1>hi</h1>\n')
  })

  it('dag import of a broken CAR is refused and leaves nothing counted', async () => {
    const before = (await ws.stats()).repoBytes
    await expect(all(ipfs.dag.import([Buffer.from('definitely not a CAR file')]))).rejects.toThrow()
    expect((await ws.stats()).repoBytes).toBe(before)
  })
})

describe('blocks', () => {
  it('block put / stat / get / rm with Kubo defaults (raw, CIDv1)', async () => {
    const bytes = Buffer.from('a raw block')
    const cid = await ipfs.block.put(bytes)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x55)
    expect(await ipfs.block.stat(cid)).toEqual({ cid, size: bytes.length })
    expect(Buffer.from(await ipfs.block.get(cid)).equals(bytes)).toBe(true)
    const removed = await all(ipfs.block.rm(cid))
    expect(removed).toHaveLength(1)
    expect(removed[0].error).toBeUndefined()
    await expect(ipfs.block.stat(cid, { timeout: 200 })).rejects.toThrow()
  })

  it('block rm of a pinned block is refused, with the error in the result line', async () => {
    const { cid } = await ipfs.add('pinned content for block rm')
    const [result] = await all(ipfs.block.rm(cid))
    expect(result.cid.toString()).toBe(cid.toString())
    expect(result.error?.message).toMatch(/pin/i)
    expect(await ws.blockStat(cid)).toMatchObject({ size: expect.any(Number) })
  })

  it('dag get decodes a dag-cbor block through the client\'s own codecs (block/get underneath)', async () => {
    const value = { hello: 'world', n: 42, list: [1, 2, 3] }
    const cid = await ipfs.block.put(dagCbor.encode(value), { format: 'dag-cbor' })
    expect(cid.code).toBe(dagCbor.code)
    const got = await ipfs.dag.get(cid)
    expect(got.value).toEqual(value)
    const linked = await ipfs.block.put(dagCbor.encode({ child: cid, name: 'parent' }), { format: 'dag-cbor' })
    const through = await ipfs.dag.get(linked, { path: 'child/hello' })
    expect(through.value).toBe('world')
    expect(CID.asCID((await ipfs.dag.get(linked)).value.child)?.toString()).toBe(cid.toString())
  })

  it('block put of bytes that do not decode as the codec is a client error', async () => {
    const res = await fetch(`${url}/api/v0/block/put?cid-codec=dag-cbor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'multipart/form-data; boundary=X' },
      body: '--X\r\nContent-Disposition: form-data; name="file"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\xff\xff\xff\r\n--X--\r\n'
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ Code: 1, Type: 'error' })
  })
})
