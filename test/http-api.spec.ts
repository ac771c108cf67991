/**
 * The node runner's HTTP API end to end: real storage nodes on loopback TCP,
 * the API listening on 127.0.0.1, requests over real sockets (node:http) and
 * through app.inject().
 *
 * Longer than our ~400-line guide on purpose: one world (two nodes, one API) serves every
 * endpoint of the seed's API, and splitting it would start that world once per file.
 */
import http from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode } from '../src/node/index.js'
import { buildApp } from '../src/runner/http/index.js'
import type { HttpApp } from '../src/runner/http/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'

const TOKEN = 'test-token-0123456789'
const AUTH = { authorization: `Bearer ${TOKEN}` }
const WS = 'http-ws'
const MiB = 1024 * 1024
const dirs: string[] = []
const nodes: StorageNode[] = []
const apps: HttpApp[] = []

async function makeNode (quotaBytes = 512 * MiB): Promise<StorageNode> {
  const dir = await mkdtemp(join(tmpdir(), 'http-api-'))
  dirs.push(dir)
  const node = await createStorageNode({ storagePath: dir, quotaBytes, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0, blockTimeout: 2000, blockRetries: 1 })
  nodes.push(node)
  return node
}

async function listen (app: HttpApp): Promise<string> {
  apps.push(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return `127.0.0.1:${port}`
}

interface RawResponse { status: number, headers: http.IncomingHttpHeaders, body: Buffer }

/** One request over a real socket; `body` may be a generator (streamed, chunked). */
async function request (host: string, method: string, path: string, headers: Record<string, string> = {}, body?: AsyncIterable<Uint8Array> | Uint8Array | string): Promise<RawResponse> {
  const [hostname, port] = host.split(':')
  return await new Promise((resolve, reject) => {
    const req = http.request({ hostname, port: Number(port), method, path, headers: { ...AUTH, ...headers } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body == null || typeof body === 'string' || body instanceof Uint8Array) {
      req.end(body)
      return
    }
    void (async () => {
      try {
        for await (const chunk of body) {
          if (!req.write(chunk)) await new Promise(resolve => req.once('drain', resolve))
        }
        req.end()
      } catch (err) { req.destroy(err as Error) }
    })()
  })
}

const json = (r: RawResponse): any => JSON.parse(r.body.toString())

/** `total` bytes of random data in 1 MiB chunks, hashed as they go. */
function randomSource (total: number, hash = createHash('sha256')): AsyncGenerator<Uint8Array> & { digest: () => string } {
  const gen = (async function * () {
    for (let sent = 0; sent < total; sent += MiB) {
      const chunk = randomBytes(Math.min(MiB, total - sent))
      hash.update(chunk)
      yield chunk
    }
  })() as AsyncGenerator<Uint8Array> & { digest: () => string }
  gen.digest = () => hash.digest('hex')
  return gen
}

async function * multipart (boundary: string, filename: string, content: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n`)
  yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`)
  yield * content
  yield Buffer.from(`\r\n--${boundary}--\r\n`)
}

let node1: StorageNode
let node2: StorageNode
let app1: HttpApp
let host1: string
let host2: string

beforeAll(async () => {
  const key = generateSwarmKey()
  node1 = await makeNode()
  const ws1 = await node1.join(WS, key)
  node2 = await makeNode()
  await node2.join(WS, key, { bootstrapPeers: ws1.multiaddrs() })
  app1 = buildApp({ storageNode: node1, apiToken: TOKEN })
  host1 = await listen(app1)
  host2 = await listen(buildApp({ storageNode: node2, apiToken: TOKEN }))
})

afterAll(async () => {
  await Promise.allSettled(apps.map(async a => { await a.close() }))
  await Promise.allSettled(nodes.map(async n => { await n.stop() }))
  await Promise.allSettled(dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
})

describe('uploads and downloads over real HTTP', () => {
  let bigCid: string
  let bigDigest: string

  it('streams a 32 MiB octet-stream upload into the node while it arrives', async () => {
    const size = 32 * MiB
    const source = randomSource(size)
    let usedMidway = -1
    const before = process.memoryUsage().rss
    let peakRss = before
    const paced = (async function * () {
      let sent = 0
      for await (const chunk of source) {
        yield chunk
        sent += chunk.byteLength
        peakRss = Math.max(peakRss, process.memoryUsage().rss)
        if (sent === 20 * MiB) {
          // the node must have written blocks before the body is complete
          const deadline = performance.now() + 10_000
          while (performance.now() < deadline) {
            const stats = json(await request(host1, 'GET', '/storage/stats'))
            usedMidway = stats.workspaces[0].used
            if (usedMidway >= 4 * MiB) break
            await new Promise(resolve => setTimeout(resolve, 50))
          }
        }
      }
    })()
    const res = await request(host1, 'POST', `/storage/upload?name=big.bin`, { 'content-type': 'application/octet-stream' }, paced)
    expect(res.status, res.body.toString()).toBe(201)
    const body = json(res)
    expect(body).toMatchObject({ size, workspace: WS, name: 'big.bin' })
    expect(usedMidway).toBeGreaterThanOrEqual(4 * MiB)
    // soft bound: a whole-body buffer (plus copies) would show up here
    expect(peakRss - before).toBeLessThan(160 * MiB)
    bigCid = body.cid
    bigDigest = source.digest()
  })

  it('streams the content back with Content-Length, ETag and ranges', async () => {
    const before = process.memoryUsage().rss
    const res = await request(host1, 'GET', `/storage/${bigCid}`)
    expect(res.status).toBe(200)
    expect(res.headers['content-length']).toBe(String(32 * MiB))
    expect(res.headers.etag).toBe(`"${bigCid}"`)
    expect(res.headers['accept-ranges']).toBe('bytes')
    expect(res.headers['content-type']).toBe('application/octet-stream')
    expect(createHash('sha256').update(res.body).digest('hex')).toBe(bigDigest)
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * MiB)

    const part = await request(host1, 'GET', `/storage/${bigCid}`, { range: 'bytes=1048570-1048589' })
    expect(part.status).toBe(206)
    expect(part.headers['content-range']).toBe(`bytes 1048570-1048589/${32 * MiB}`)
    expect(part.body.length).toBe(20)
    expect(part.body.equals(res.body.subarray(1048570, 1048590))).toBe(true)

    const tail = await request(host1, 'GET', `/storage/${bigCid}`, { range: 'bytes=-5' })
    expect(tail.status).toBe(206)
    expect(tail.body.equals(res.body.subarray(32 * MiB - 5))).toBe(true)

    const bad = await request(host1, 'GET', `/storage/${bigCid}`, { range: `bytes=${32 * MiB}-` })
    expect(bad.status).toBe(416)
    expect(bad.headers['content-range']).toBe(`bytes */${32 * MiB}`)
    expect(json(bad).error.code).toBe('ERR_RANGE_NOT_SATISFIABLE')

    const cached = await request(host1, 'GET', `/storage/${bigCid}`, { 'if-none-match': `"${bigCid}"` })
    expect(cached.status).toBe(304)
    expect(cached.body.length).toBe(0)

    const head = await request(host1, 'HEAD', `/storage/${bigCid}?filename=${encodeURIComponent('résumé.txt')}`)
    expect(head.status).toBe(200)
    expect(head.headers['content-length']).toBe(String(32 * MiB))
    expect(head.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(head.headers['content-disposition']).toContain("filename*=UTF-8''r%C3%A9sum%C3%A9.txt")
  })

  it('stops the download when the client disconnects', async () => {
    const [hostname, port] = host1.split(':')
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ hostname, port: Number(port), path: `/storage/${bigCid}`, headers: AUTH }, res => {
        res.once('data', () => { req.destroy(); resolve() })
      })
      req.on('error', (err: any) => { if (err.code !== 'ECONNRESET') reject(err) })
    })
    // the server is still healthy afterwards
    expect((await request(host1, 'GET', '/health')).status).toBe(200)
  })

  it('aborts the upload when the client disconnects midway (nothing pinned)', async () => {
    const pinsBefore = json(await request(host1, 'GET', '/storage/pins')).pins.length
    const [hostname, port] = host1.split(':')
    await new Promise<void>(resolve => {
      const req = http.request({ hostname, port: Number(port), method: 'POST', path: '/storage/upload', headers: { ...AUTH, 'content-type': 'application/octet-stream' } })
      req.on('error', () => { resolve() })
      req.on('close', () => { resolve() })
      void (async () => {
        for await (const chunk of randomSource(4 * MiB)) {
          if (!req.write(chunk)) await new Promise(resolve => req.once('drain', resolve))
        }
        await new Promise(resolve => setTimeout(resolve, 200))
        req.destroy()
      })()
    })
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(json(await request(host1, 'GET', '/storage/pins')).pins.length).toBe(pinsBefore)
    expect((await request(host1, 'GET', '/health')).status).toBe(200)
  })

  it('accepts a 32 MiB multipart upload (browser form)', async () => {
    const boundary = '----otherthing' + randomBytes(8).toString('hex')
    const source = randomSource(32 * MiB)
    const res = await request(host1, 'POST', '/storage/upload?profile=cidv1', { 'content-type': `multipart/form-data; boundary=${boundary}` }, multipart(boundary, 'form.bin', source))
    expect(res.status, res.body.toString()).toBe(201)
    const body = json(res)
    expect(body).toMatchObject({ size: 32 * MiB, workspace: WS, name: 'form.bin' })
    expect(body.cid.startsWith('b')).toBe(true)
    const back = await request(host1, 'GET', `/storage/${body.cid}`)
    expect(createHash('sha256').update(back.body).digest('hex')).toBe(source.digest())
  })

  it('accepts a multipart upload made by fetch + FormData', async () => {
    const form = new FormData()
    form.append('file', new Blob(['hello world']), 'hello.txt')
    const res = await fetch(`http://${host1}/storage/upload`, { method: 'POST', body: form, headers: AUTH })
    expect(res.status).toBe(201)
    const body = await res.json() as any
    // Kubo's `ipfs add` CID for "hello world" (no newline)
    expect(body.cid).toBe('Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD')
    expect(body.size).toBe(11)
  })
})

describe('routes never buffer uploads', () => {
  it('the upload code has no toBuffer / request.file / saveRequestFiles', async () => {
    const dir = new URL('../src/runner/http/', import.meta.url)
    // every file, those of the command groups in sub-folders (kubo/) too
    for (const f of await readdir(dir, { recursive: true })) {
      if (!f.endsWith('.ts')) continue
      const src = await readFile(new URL(f, dir), 'utf8')
      expect(src, f).not.toMatch(/toBuffer\s*\(|saveRequestFiles|\.file\s*\(\s*\)|attachFieldsToBody/)
    }
  })
})

describe('pins, unpins and stats', () => {
  let cid: string

  it('pins on a second node from its workspace peer', async () => {
    const up = await request(host1, 'POST', '/storage/upload?name=shared.bin', { 'content-type': 'application/octet-stream' }, randomSource(3 * MiB + 17))
    expect(up.status).toBe(201)
    cid = json(up).cid
    const pin = await request(host2, 'POST', '/storage/pin', { 'content-type': 'application/json' }, JSON.stringify({ cid, name: 'copy' }))
    expect(pin.status, pin.body.toString()).toBe(201)
    expect(json(pin)).toMatchObject({ cid, size: 3 * MiB + 17, workspace: WS, alreadyPinned: false })
    const again = await request(host2, 'POST', '/storage/pin', { 'content-type': 'application/json' }, JSON.stringify({ cid }))
    expect(again.status).toBe(200)
    expect(json(again).alreadyPinned).toBe(true)
    const pins = json(await request(host2, 'GET', '/storage/pins'))
    expect(pins.workspace).toBe(WS)
    expect(pins.pins.map((p: any) => p.cid)).toContain(cid)
  })

  it('reports stats', async () => {
    const stats = json(await request(host2, 'GET', '/storage/stats'))
    expect(stats.quota).toBe(512 * MiB)
    expect(stats.used).toBeGreaterThanOrEqual(3 * MiB)
    expect(stats.free).toBe(stats.quota - stats.used)
    expect(stats.workspaces).toHaveLength(1)
    expect(stats.workspaces[0]).toMatchObject({ workspace: WS, pins: 1, peers: 1, quota: 512 * MiB })
  })

  it('unpins and collects garbage', async () => {
    const res = await request(host2, 'DELETE', `/storage/${cid}`)
    expect(res.status, res.body.toString()).toBe(200)
    const body = json(res)
    expect(body).toMatchObject({ cid, unpinned: true })
    expect(body.freedBytes).toBeGreaterThanOrEqual(3 * MiB)
    const again = await request(host2, 'DELETE', `/storage/${cid}`)
    expect(again.status).toBe(404)
    expect(json(again).error.code).toBe('ERR_NOT_PINNED')
  })

  it('answers 404 for content nobody has, within ?timeout', async () => {
    const missing = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const started = performance.now()
    const res = await request(host1, 'GET', `/storage/${missing}?timeout=500`)
    expect(res.status).toBe(404)
    expect(json(res).error.code).toBe('ERR_NOT_FOUND')
    expect(performance.now() - started).toBeLessThan(10_000)
  })
})

describe('errors and safety (app.inject)', () => {
  it('400 for a malformed CID', async () => {
    const res = await app1.inject({ method: 'GET', url: '/storage/not-a-cid', headers: AUTH })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ error: { code: 'ERR_INVALID_CID', message: expect.any(String) } })
  })

  it('401 without or with a wrong token; ?token= works; /health is open', async () => {
    const none = await app1.inject({ method: 'GET', url: '/storage/pins' })
    expect(none.statusCode).toBe(401)
    expect(none.json().error.code).toBe('ERR_UNAUTHORIZED')
    const wrong = await app1.inject({ method: 'GET', url: '/storage/pins', headers: { authorization: 'Bearer nope-nope-nope' } })
    expect(wrong.statusCode).toBe(401)
    const query = await app1.inject({ method: 'GET', url: `/storage/pins?token=${TOKEN}` })
    expect(query.statusCode).toBe(200)
    const health = await app1.inject({ method: 'GET', url: '/health' })
    expect(health.statusCode).toBe(200)
    expect(health.json()).toEqual({ status: 'ok' })
    const kubo = await app1.inject({ method: 'POST', url: '/api/v0/version' })
    expect(kubo.statusCode).toBe(401)
    expect(kubo.json()).toMatchObject({ Code: 0, Type: 'error' })
  })

  it('403 for a foreign Host or Origin, even with the token', async () => {
    const host = await app1.inject({ method: 'GET', url: '/storage/pins', headers: { ...AUTH, host: 'evil.example:5001' } })
    expect(host.statusCode).toBe(403)
    expect(host.json().error.code).toBe('ERR_FORBIDDEN')
    const origin = await app1.inject({ method: 'GET', url: '/storage/pins', headers: { ...AUTH, origin: 'https://evil.example' } })
    expect(origin.statusCode).toBe(403)
    const health = await app1.inject({ method: 'GET', url: '/health', headers: { host: 'rebind.evil.example' } })
    expect(health.statusCode).toBe(403)
    const local = await app1.inject({ method: 'GET', url: '/storage/pins', headers: { ...AUTH, origin: 'http://localhost:3000', host: '[::1]:5001' } })
    expect(local.statusCode).toBe(200)
    expect(local.headers['access-control-allow-origin']).toBe('http://localhost:3000')
    const preflight = await app1.inject({ method: 'OPTIONS', url: '/storage/upload', headers: { origin: 'http://localhost:3000' } })
    expect(preflight.statusCode).toBe(204)
  })

  it('403 for a foreign Host over a real socket', async () => {
    const res = await request(host1, 'GET', '/storage/pins', { host: 'attacker.example' })
    expect(res.status).toBe(403)
  })

  it('apiToken false turns auth off; a missing apiToken generates one', async () => {
    const open = buildApp({ storageNode: node1, apiToken: false })
    expect((await open.inject({ method: 'GET', url: '/storage/pins' })).statusCode).toBe(200)
    await open.close()
    const generated = buildApp({ storageNode: node1 })
    expect(typeof generated.apiToken).toBe('string')
    expect((generated.apiToken as string).length).toBeGreaterThanOrEqual(32)
    expect((await generated.inject({ method: 'GET', url: '/storage/pins' })).statusCode).toBe(401)
    expect((await generated.inject({ method: 'GET', url: '/storage/pins', headers: { authorization: `Bearer ${generated.apiToken as string}` } })).statusCode).toBe(200)
    await generated.close()
  })

  it('400 / 404 for workspace selection', async () => {
    const unknown = await app1.inject({ method: 'GET', url: '/storage/pins?workspace=nope', headers: AUTH })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().error.code).toBe('ERR_WORKSPACE_NOT_JOINED')
  })

  it('415 for an upload that is neither octet-stream nor multipart; 400 for a bad query', async () => {
    const res = await app1.inject({ method: 'POST', url: '/storage/upload', headers: { ...AUTH, 'content-type': 'text/plain' }, payload: 'x' })
    expect(res.statusCode).toBe(415)
    expect(res.json().error.code).toBe('ERR_UNSUPPORTED_MEDIA_TYPE')
    const bad = await app1.inject({ method: 'POST', url: '/storage/upload?profile=zip', headers: { ...AUTH, 'content-type': 'application/octet-stream' }, payload: 'x' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.code).toBe('ERR_INVALID_ARGUMENT')
  })

  it('413 above maxUploadBytes', async () => {
    const small = buildApp({ storageNode: node1, apiToken: TOKEN, maxUploadBytes: 1000 })
    const res = await small.inject({ method: 'POST', url: '/storage/upload?pin=false', headers: { ...AUTH, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(5000) })
    expect(res.statusCode).toBe(413)
    expect(res.json().error.code).toBe('ERR_PAYLOAD_TOO_LARGE')
    await small.close()
  })
})

describe('quota', () => {
  it('507 with ERR_QUOTA_EXCEEDED when an upload does not fit', async () => {
    const node = await makeNode(2 * MiB)
    await node.join('tiny', generateSwarmKey())
    const host = await listen(buildApp({ storageNode: node, apiToken: TOKEN }))
    const res = await request(host, 'POST', '/storage/upload', { 'content-type': 'application/octet-stream' }, randomSource(8 * MiB))
    expect(res.status).toBe(507)
    const body = json(res)
    expect(body.error.code).toBe('ERR_QUOTA_EXCEEDED')
    expect(body.error.limit).toBe(2 * MiB)
    // the node keeps serving
    const ok = await request(host, 'POST', '/storage/upload', { 'content-type': 'application/octet-stream' }, 'small')
    expect(ok.status).toBe(201)

    // Kubo add with progress: the failure comes as a final error line and a cut response
    const form = new FormData()
    form.append('file', new Blob([randomBytes(4 * MiB)]), 'big.bin')
    const kubo = await fetch(`http://${host}/api/v0/add?progress=true`, { method: 'POST', body: form, headers: AUTH })
      .then(async r => await r.text()).catch((err: Error) => err)
    if (typeof kubo === 'string') expect(kubo).toMatch(/"Type":"error"/)

    // an empty file, and workspace selection once two workspaces are joined
    const empty = json(await request(host, 'POST', '/storage/upload', { 'content-type': 'application/octet-stream' }, ''))
    const got = await request(host, 'GET', `/storage/${empty.cid as string}`)
    expect(got.status).toBe(200)
    expect(got.headers['content-length']).toBe('0')
    await node.join('second', generateSwarmKey())
    const ambiguous = await request(host, 'GET', '/storage/pins')
    expect(ambiguous.status).toBe(400)
    expect(json(ambiguous).error.code).toBe('ERR_WORKSPACE_NOT_JOINED')
    const byHeader = await request(host, 'GET', '/storage/pins', { 'x-workspace': 'second' })
    expect(json(byHeader)).toEqual({ workspace: 'second', pins: [] })
    const stats = json(await request(host, 'GET', '/storage/stats'))
    expect(stats.workspaces.map((w: any) => w.workspace).sort()).toEqual(['second', 'tiny'])
  })

  it('413 for a JSON body above jsonBodyLimit', async () => {
    const res = await app1.inject({ method: 'POST', url: '/storage/pin', headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify({ cid: 'x'.repeat(100_000) }) })
    expect(res.statusCode).toBe(413)
    expect(res.json().error.code).toBe('ERR_PAYLOAD_TOO_LARGE')
  })
})
