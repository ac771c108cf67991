/**
 * The Kubo RPC folder, block, DAG and refs commands, each driven by the real
 * `kubo-rpc-client` over real HTTP against a real storage node: folders
 * added with `addAll` + `globSource` get the CIDs the node's own
 * `addDirectory` (checked against Kubo's `ipfs add -r`) gives.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CarReader } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { globSource } from 'kubo-rpc-client'
import type { KuboRPCClient } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WorkspaceNode } from '../src/node/index.js'
import { startKuboApi } from './helpers/kubo.js'
import type { KuboApi } from './helpers/kubo.js'
import { all, concat, untar } from './helpers/streams.js'

const TOKEN = 'kubo-folders-token-01'

let api: KuboApi
let tree: string
let ws: WorkspaceNode
let ipfs: KuboRPCClient
/** The folder added by the first test (the `blocks` tests read it too). */
let root: CID

beforeAll(async () => {
  api = await startKuboApi({ name: 'http-kubo-folders', workspace: 'kubo-folders', token: TOKEN })
  ;({ ws, ipfs } = api)
  tree = join(api.dir, 'site')
  await mkdir(join(tree, 'docs/deep'), { recursive: true })
  await mkdir(join(tree, 'empty'))
  await writeFile(join(tree, 'index.html'), '<h1>hi</h1>\n')
  await writeFile(join(tree, 'docs/a.txt'), 'a'.repeat(1000))
  await writeFile(join(tree, 'docs/deep/big.bin'), Buffer.alloc(600 * 1024, 7))
})

afterAll(async () => {
  await api?.close()
})

describe('add of folders', () => {
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
    const res = await api.post(`ls?arg=${root.toString()}/nope`)
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

  it('client dag.get decodes dag-cbor, dag-json, raw and dag-pb through its own codecs (block/get underneath), with paths', async () => {
    // dag-cbor, and a path through a link to another dag-cbor block
    const value = { hello: 'world', n: 42, list: [1, 2, 3] }
    const cid = await ipfs.block.put(dagCbor.encode(value), { format: 'dag-cbor' })
    expect(cid.code).toBe(dagCbor.code)
    expect((await ipfs.dag.get(cid)).value).toEqual(value)
    const linked = await ipfs.block.put(dagCbor.encode({ child: cid, name: 'parent' }), { format: 'dag-cbor' })
    expect((await ipfs.dag.get(linked, { path: 'child/hello' })).value).toBe('world')
    expect(CID.asCID((await ipfs.dag.get(linked)).value.child)?.toString()).toBe(cid.toString())

    // raw
    const rawBytes = Buffer.from('raw bytes for dag get')
    const rawCid = await ipfs.block.put(rawBytes)
    expect(Buffer.from((await ipfs.dag.get(rawCid)).value as Uint8Array).equals(rawBytes)).toBe(true)

    // dag-json, linking to the raw and the dag-cbor blocks
    const jsonCid = await ipfs.block.put(dagJson.encode({ title: 'doc', parts: [rawCid, linked] }), { format: 'dag-json' })
    expect(jsonCid.code).toBe(dagJson.code)
    expect((await ipfs.dag.get(jsonCid)).value).toMatchObject({ title: 'doc' })
    expect(Buffer.from((await ipfs.dag.get(jsonCid, { path: 'parts/0' })).value as Uint8Array).equals(rawBytes)).toBe(true)
    expect((await ipfs.dag.get(jsonCid, { path: '/parts/1/child/n' })).value).toBe(42)

    // dag-pb: the folder's root node, and a path through its first link (docs)
    const dir = await ipfs.dag.get(root)
    expect((dir.value as dagPb.PBNode).Links.map(l => l.Name)).toEqual(['docs', 'empty', 'index.html'])
    const docs = await ipfs.dag.get(root, { path: 'Links/0/Hash' })
    expect((docs.value as dagPb.PBNode).Links.map(l => l.Name)).toEqual(['a.txt', 'deep'])

    await expect(ipfs.dag.get(linked, { path: 'nope' })).rejects.toThrow(/no link named "nope"/)
  })

  it('dag/get is served as Kubo serves it: the value a path names, dag-json by default or dag-cbor', async () => {
    const child = await ws.blockPut(dagCbor.encode({ hello: 'world', list: [1, 2, 3] }), { format: 'dag-cbor' })
    const parent = await ws.blockPut(dagCbor.encode({ child, name: 'parent' }), { format: 'dag-cbor' })
    const get = async (query: string): Promise<Response> => await api.post(`dag/get?${query}`)

    // a whole node (dag-json: links as {"/": cid})
    let res = await get(`arg=${parent.toString()}`)
    expect(res.status).toBe(200)
    expect(dagJson.decode(new Uint8Array(await res.arrayBuffer()))).toEqual({ child, name: 'parent' })
    expect(JSON.parse(await (await get(`arg=${parent.toString()}`)).text())).toEqual({ child: { '/': child.toString() }, name: 'parent' })
    // a path through a link, into a field, into a list
    expect(await (await get(`arg=/ipfs/${parent.toString()}/child/hello`)).text()).toBe('"world"')
    expect(await (await get(`arg=${parent.toString()}/child/list/2`)).text()).toBe('3')
    expect(await (await get(`arg=${parent.toString()}/child`)).text()).toBe(new TextDecoder().decode(dagJson.encode({ hello: 'world', list: [1, 2, 3] })))
    // dag-cbor output
    res = await get(`arg=${parent.toString()}/child&output-codec=dag-cbor`)
    expect(dagCbor.decode(new Uint8Array(await res.arrayBuffer()))).toEqual({ hello: 'world', list: [1, 2, 3] })
    // dag-pb: UnixFS names first, then the node as dag-json (Data as bytes, Links with Hash, Name, Tsize)
    const docs = await ws.resolve(`${root.toString()}/docs`)
    const docsNode = dagPb.decode(await ws.blockGet(docs.cid))
    res = await get(`arg=${root.toString()}/docs`)
    expect(await res.text()).toBe(new TextDecoder().decode(dagJson.encode(docsNode)))
    // raw: the bytes, as dag-json bytes
    const raw = await ws.blockPut(Buffer.from('raw for dag/get'))
    expect(JSON.parse(await (await get(`arg=${raw.toString()}`)).text())).toEqual({ '/': { bytes: Buffer.from('raw for dag/get').toString('base64').replace(/=+$/, '') } })
  })

  it('dag/get errors have Kubo\'s shape', async () => {
    const parent = await ws.blockPut(dagCbor.encode({ name: 'parent' }), { format: 'dag-cbor' })
    const expectError = async (query: string, status: number, code: string, message?: RegExp): Promise<void> => {
      const res = await api.post(`dag/get?${query}`)
      expect(res.status, query).toBe(status)
      expect(res.headers.get('x-error-code'), query).toBe(code)
      expect(await res.json(), query).toEqual({ Message: message != null ? expect.stringMatching(message) : expect.any(String), Code: status === 400 ? 1 : 0, Type: 'error' })
    }
    await expectError(`arg=${parent.toString()}/nope`, 500, 'ERR_PATH_NOT_FOUND', /no link named "nope"/)
    await expectError(`arg=${parent.toString()}/name/deeper`, 500, 'ERR_PATH_NOT_FOUND')
    await expectError('arg=not-a-cid', 400, 'ERR_INVALID_CID')
    await expectError(`arg=${parent.toString()}&output-codec=xml`, 400, 'ERR_INVALID_ARGUMENT', /output-codec/)
    await expectError('', 400, 'ERR_INVALID_ARGUMENT')
    // a CID nobody has, within the timeout
    await expectError('arg=bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku&timeout=300ms', 500, 'ERR_NOT_FOUND')
  })

  it('block put of bytes that do not decode as the codec is a client error', async () => {
    const res = await api.post('block/put?cid-codec=dag-cbor', {
      headers: { 'content-type': 'multipart/form-data; boundary=X' },
      body: '--X\r\nContent-Disposition: form-data; name="file"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\xff\xff\xff\r\n--X--\r\n'
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ Code: 1, Type: 'error' })
  })
})
