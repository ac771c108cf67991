/**
 * Folders on the `/storage` API against a real storage node: a multipart
 * folder upload (all or nothing), paths inside a DAG, directory listings,
 * tar, CAR and raw-block answers with the trustless gateway's headers, and
 * CAR import.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { get as httpGet, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { CarReader } from '@ipld/car'
import { extract } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode, WorkspaceNode } from '../src/node/index.js'
import { buildApp } from '../src/runner/http/index.js'
import type { HttpApp } from '../src/runner/http/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'

const TOKEN = 'http-folders-token-01'
const MiB = 1024 * 1024
const auth = { authorization: `Bearer ${TOKEN}` }

let dir: string
let node: StorageNode
let ws: WorkspaceNode
let app: HttpApp
let url: string

/** Polls `check` (the node has no event for "usage is back"). */
async function until (check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > end) throw new Error('timed out waiting')
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

function folderForm (files: Record<string, string | Uint8Array>): FormData {
  const form = new FormData()
  for (const [path, content] of Object.entries(files)) form.append('file', new Blob([content as BlobPart]), path)
  return form
}

async function upload (form: FormData, query = ''): Promise<Response> {
  return await fetch(`${url}/storage/upload${query}`, { method: 'POST', headers: auth, body: form })
}

async function untarNames (bytes: Buffer): Promise<string[]> {
  const ex = extract()
  const names: string[] = []
  const done = (async () => {
    for await (const entry of ex) {
      names.push(entry.header.name + (entry.header.type === 'directory' ? '/' : ''))
      entry.resume()
    }
  })()
  ex.end(bytes)
  await done
  return names
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'http-folders-'))
  node = await createStorageNode({ storagePath: dir, quotaBytes: 64 * MiB, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0 })
  ws = await node.join('folders-ws', generateSwarmKey())
  app = buildApp({ storageNode: node, apiToken: TOKEN, maxUploadBytes: 8 * MiB })
  await app.listen({ host: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await app?.close()
  await node?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('POST /storage/upload of a folder', () => {
  let root: string

  it('keeps the paths of the parts (d/sub/video.mp4) and answers the root, pinned under the folder name', async () => {
    const res = await upload(folderForm({ 'd/sub/video.mp4': 'moving pictures', 'd/readme.txt': 'read me', 'd/sub/deeper/x.bin': new Uint8Array(300_000).fill(1) }))
    expect(res.status).toBe(201)
    const body = await res.json()
    expect(body).toMatchObject({ cid: expect.any(String), workspace: 'folders-ws', name: 'd', entries: 6 })
    expect(body.size).toBe('moving pictures'.length + 'read me'.length + 300_000)
    root = body.cid
    const pins = await ws.pins()
    expect(pins.find(p => p.cid.toString() === root)).toMatchObject({ name: 'd', size: body.size })
    // the same tree added by the library gives the same root
    const again = []
    for await (const e of ws.addAll([
      { path: 'd/sub/video.mp4', content: Buffer.from('moving pictures') },
      { path: 'd/readme.txt', content: Buffer.from('read me') },
      { path: 'd/sub/deeper/x.bin', content: new Uint8Array(300_000).fill(1) }
    ], { pin: false })) again.push(e)
    expect(again[again.length - 1].cid.toString()).toBe(root)
  })

  it('GET /storage/<cid> of a directory answers its listing; /<cid>/<path> a file with its content type', async () => {
    const res = await fetch(`${url}/storage/${root}`, { headers: auth })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-unixfs-type')).toBe('directory')
    const listing = await res.json()
    expect(listing).toMatchObject({ cid: root, type: 'directory' })
    expect(listing.entries.map((e: any) => `${e.name}:${e.type}`).sort()).toEqual(['readme.txt:file', 'sub:directory'])

    const sub = await (await fetch(`${url}/storage/${root}/sub`, { headers: auth })).json()
    expect(sub.path).toBe(`${root}/sub`)
    expect(sub.entries.map((e: any) => e.name).sort()).toEqual(['deeper', 'video.mp4'])

    const file = await fetch(`${url}/storage/${root}/sub/video.mp4`, { headers: auth })
    expect(file.status).toBe(200)
    expect(file.headers.get('content-type')).toBe('video/mp4')
    expect(file.headers.get('x-ipfs-path')).toBe(`/ipfs/${root}/sub/video.mp4`)
    expect(await file.text()).toBe('moving pictures')

    const range = await fetch(`${url}/storage/${root}/sub/video.mp4`, { headers: { ...auth, range: 'bytes=0-5' } })
    expect(range.status).toBe(206)
    expect(await range.text()).toBe('moving')

    const download = await fetch(`${url}/storage/${root}/readme.txt?download=true`, { headers: auth })
    expect(download.headers.get('content-disposition')).toContain('readme.txt')

    const missing = await fetch(`${url}/storage/${root}/nope.txt`, { headers: auth })
    expect(missing.status).toBe(404)
    expect((await missing.json()).error.code).toBe('ERR_PATH_NOT_FOUND')
    // fetch and inject resolve the dots themselves: a raw request sends them as they are
    const dots = await new Promise<number>((resolve, reject) => {
      const port = (app.server.address() as AddressInfo).port
      httpGet({ host: '127.0.0.1', port, path: `/storage/${root}/sub/../readme.txt`, headers: auth }, res => { res.resume(); resolve(res.statusCode ?? 0) }).once('error', reject)
    })
    expect(dots).toBe(400)
  })

  it('?format=tar streams the whole folder; of a sub-folder, that folder', async () => {
    const res = await fetch(`${url}/storage/${root}?format=tar`, { headers: auth })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-tar')
    expect(res.headers.get('content-disposition')).toContain(`${root}.tar`)
    const names = await untarNames(Buffer.from(await res.arrayBuffer()))
    expect(names).toEqual(expect.arrayContaining([`${root}/`, `${root}/readme.txt`, `${root}/sub/`, `${root}/sub/video.mp4`, `${root}/sub/deeper/x.bin`]))
    const sub = await fetch(`${url}/storage/${root}/sub?format=tar`, { headers: auth })
    expect((await untarNames(Buffer.from(await sub.arrayBuffer())))[0]).toBe('sub/')
  })

  it('?format=car or Accept: application/vnd.ipld.car answers a CARv1 of the DAG; POST /storage/car imports one', async () => {
    for (const init of [{ q: '?format=car', headers: auth }, { q: '', headers: { ...auth, accept: 'application/vnd.ipld.car' } }]) {
      const res = await fetch(`${url}/storage/${root}${init.q}`, { headers: init.headers })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^application\/vnd\.ipld\.car; version=1/)
      expect(res.headers.get('etag')).toBe(`"${root}.car"`)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      const reader = await CarReader.fromBytes(new Uint8Array(await res.arrayBuffer()))
      expect((await reader.getRoots()).map(String)).toEqual([root])
    }
    const car = Buffer.from(await (await fetch(`${url}/storage/${root}?format=car`, { headers: auth })).arrayBuffer())
    await ws.unpin(root)
    await ws.gc()
    const res = await fetch(`${url}/storage/car`, { method: 'POST', headers: { ...auth, 'content-type': 'application/vnd.ipld.car' }, body: car })
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ roots: [root], workspace: 'folders-ws' })
    expect(await ws.isPinned(root)).toBe(true)
    const bad = await fetch(`${url}/storage/car`, { method: 'POST', headers: { ...auth, 'content-type': 'application/vnd.ipld.car' }, body: 'not a car' })
    expect(bad.status).toBe(400)
    expect((await bad.json()).error.code).toBe('ERR_INVALID_CAR')
  })

  it('Accept: application/vnd.ipld.raw (or ?format=raw) answers the one block', async () => {
    const res = await fetch(`${url}/storage/${root}/readme.txt`, { headers: { ...auth, accept: 'application/vnd.ipld.raw' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw')
    const cid = (await ws.resolve(`${root}/readme.txt`)).cid
    expect(res.headers.get('etag')).toBe(`"${cid.toString()}.raw"`)
    const block = Buffer.from(await res.arrayBuffer())
    expect(block.equals(Buffer.from(await ws.blockGet(cid)))).toBe(true)
    const dirBlock = await fetch(`${url}/storage/${root}?format=raw`, { headers: auth })
    expect(Buffer.from(await dirBlock.arrayBuffer()).equals(Buffer.from(await ws.blockGet(root)))).toBe(true)
  })
})

describe('a refused folder upload pins nothing and counts nothing', () => {
  it('above maxUploadBytes (413), the first parts included', async () => {
    const before = await ws.stats()
    const pinsBefore = (await ws.pins()).length
    const res = await upload(folderForm({ 'big/a.bin': new Uint8Array(5 * MiB).fill(2), 'big/b.bin': new Uint8Array(5 * MiB).fill(3) }))
    expect(res.status).toBe(413)
    expect((await res.json()).error.code).toBe('ERR_PAYLOAD_TOO_LARGE')
    expect((await ws.pins()).length).toBe(pinsBefore)
    expect((await ws.stats()).repoBytes).toBe(before.repoBytes)
  })

  it('several top-level names without ?wrap=true: 400, nothing pinned; with ?wrap=true one wrapping folder', async () => {
    const before = await ws.stats()
    const pinsBefore = (await ws.pins()).length
    const res = await upload(folderForm({ 'one.txt': 'first file', 'two.txt': 'second file' }))
    expect(res.status).toBe(400)
    expect((await ws.pins()).length).toBe(pinsBefore)
    expect((await ws.stats()).repoBytes).toBe(before.repoBytes)
    const wrapped = await upload(folderForm({ 'one.txt': 'first file', 'two.txt': 'second file' }), '?wrap=true')
    expect(wrapped.status).toBe(201)
    const listing = await (await fetch(`${url}/storage/${(await wrapped.json()).cid}`, { headers: auth })).json()
    expect(listing.entries.map((e: any) => e.name).sort()).toEqual(['one.txt', 'two.txt'])
  })

  it('a folder upload cut mid-body: nothing pinned, usage back to the byte', async () => {
    const before = (await ws.stats()).repoBytes
    const pinsBefore = (await ws.pins()).length
    const port = (app.server.address() as AddressInfo).port
    const boundary = '----cutmidbody'
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/storage/upload', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` } })
    req.on('error', () => {}) // the socket is destroyed on purpose
    const part = (path: string): string => `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${path}"\r\nContent-Type: application/octet-stream\r\n\r\n`
    req.write(part('cut/first.bin'))
    req.write(randomBytes(2 * MiB))
    req.write(`\r\n${part('cut/second.bin')}`)
    req.write(randomBytes(MiB))
    // the first file's blocks are written (usage grew) while the second is still arriving
    await until(async () => (await ws.stats()).repoBytes > before + MiB, 10_000)
    req.destroy()
    await until(async () => (await ws.stats()).repoBytes === before, 10_000)
    expect((await ws.pins()).length).toBe(pinsBefore)
  })

  it('a dag-pb CID nobody has: 404 within ?timeout, in every format', async () => {
    const missing = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
    for (const q of ['', '&format=raw', '&format=tar']) {
      const res = await fetch(`${url}/storage/${missing}?timeout=300${q}`, { headers: auth })
      expect(res.status, q).toBe(404)
      expect((await res.json()).error.code).toBe('ERR_NOT_FOUND')
    }
  })

  it('a path with ".." is refused', async () => {
    const res = await upload(folderForm({ 'd/../../etc/passwd': 'x' }))
    expect(res.status).toBe(400)
  })
})
