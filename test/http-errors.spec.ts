/**
 * Every error of the node runner's HTTP API, fastify's own included, answers
 * `{ error: { code, message } }` with the status of `util/http-errors.ts`;
 * the Kubo RPC answers Kubo's `{ Message, Code, Type }`. A real storage node,
 * requests through app.inject().
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha512 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'
import * as raw from 'multiformats/codecs/raw'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode } from '../src/node/index.js'
import { buildApp } from '../src/runner/http/index.js'
import type { HttpApp } from '../src/runner/http/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'

const TOKEN = 'test-token-0123456789'
const AUTH = { authorization: `Bearer ${TOKEN}` }
let dir: string
let node: StorageNode
let app: HttpApp
let longCid: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'http-errors-'))
  node = await createStorageNode({ storagePath: dir, quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0 })
  await node.join('errors-ws', generateSwarmKey())
  app = buildApp({ storageNode: node, apiToken: TOKEN, jsonBodyLimit: 256 })
  longCid = CID.createV1(raw.code, await sha512.digest(new TextEncoder().encode('nobody has this'))).toString()
})

afterAll(async () => {
  await app?.close()
  await node?.stop()
  await rm(dir, { recursive: true, force: true })
})

/** The documented shape, and nothing of fastify's (`statusCode`, `FST_` codes). */
function expectShape (res: { statusCode: number, headers: Record<string, unknown>, json: () => any }, status: number, code: string): void {
  expect(res.statusCode).toBe(status)
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/)
  const body = res.json()
  expect(Object.keys(body)).toEqual(['error'])
  expect(body.error).toMatchObject({ code, message: expect.any(String) })
  expect(body.error.code).not.toMatch(/^FST_/)
}

describe('HTTP errors: one shape, the right status', () => {
  it('a valid CID longer than 100 characters is routed, not 414', async () => {
    // an identity CID carries its content: 90 bytes make a 152-character CID the node can serve
    const content = new TextEncoder().encode('x'.repeat(90))
    const inline = CID.createV1(raw.code, identity.digest(content)).toString()
    expect(inline.length).toBeGreaterThan(100)
    const ok = await app.inject({ method: 'GET', url: `/storage/${inline}`, headers: AUTH })
    expect(ok.statusCode).toBe(200)
    expect(ok.body).toBe('x'.repeat(90))
    // a sha2-512 CIDv1 (110 characters): a named answer in our shape, whatever the node supports
    expect(longCid.length).toBe(110)
    const res = await app.inject({ method: 'GET', url: `/storage/${longCid}?timeout=200`, headers: AUTH })
    expect(res.statusCode).not.toBe(414)
    expect([404, 501]).toContain(res.statusCode)
    expectShape(res, res.statusCode, res.statusCode === 404 ? 'ERR_NOT_FOUND' : 'ERR_NOT_SUPPORTED')
  })

  it('414 ERR_URI_TOO_LONG for a path parameter above the limit', async () => {
    const res = await app.inject({ method: 'GET', url: `/storage/b${'a'.repeat(2000)}`, headers: AUTH })
    expectShape(res, 414, 'ERR_URI_TOO_LONG')
  })

  it('400 for a path that is not valid percent-encoding', async () => {
    const res = await app.inject({ method: 'GET', url: '/storage/%E0%A4%A', headers: AUTH })
    expectShape(res, 400, 'ERR_INVALID_ARGUMENT')
  })

  it('413 ERR_PAYLOAD_TOO_LARGE above the JSON body limit', async () => {
    const res = await app.inject({ method: 'POST', url: '/storage/pin', headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify({ cid: 'x'.repeat(1000) }) })
    expectShape(res, 413, 'ERR_PAYLOAD_TOO_LARGE')
  })

  it('400 for bad JSON and for an empty JSON body', async () => {
    const bad = await app.inject({ method: 'POST', url: '/storage/pin', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{bad' })
    expectShape(bad, 400, 'ERR_INVALID_ARGUMENT')
    const empty = await app.inject({ method: 'POST', url: '/storage/pin', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '' })
    expectShape(empty, 400, 'ERR_INVALID_ARGUMENT')
  })

  it('415 for an unsupported media type', async () => {
    const res = await app.inject({ method: 'POST', url: '/storage/pin', headers: { ...AUTH, 'content-type': 'text/xml' }, payload: '<a/>' })
    expectShape(res, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE')
  })

  it('400 for a body that fails the schema', async () => {
    const res = await app.inject({ method: 'POST', url: '/storage/pin', headers: AUTH, payload: { nope: 1 } })
    expectShape(res, 400, 'ERR_INVALID_ARGUMENT')
  })

  it('404 ERR_ROUTE_NOT_FOUND for an unknown route', async () => {
    const res = await app.inject({ method: 'GET', url: '/nope', headers: AUTH })
    expectShape(res, 404, 'ERR_ROUTE_NOT_FOUND')
  })

  it('405 ERR_METHOD_NOT_ALLOWED with Allow for a known path and another method', async () => {
    const res = await app.inject({ method: 'PUT', url: '/storage/pins', headers: AUTH })
    expectShape(res, 405, 'ERR_METHOD_NOT_ALLOWED')
    expect(res.headers.allow).toContain('GET')
    const del = await app.inject({ method: 'PATCH', url: `/storage/${longCid}`, headers: AUTH })
    expectShape(del, 405, 'ERR_METHOD_NOT_ALLOWED')
    expect(String(del.headers.allow)).toMatch(/DELETE/)
  })

  it('401 and 403 keep the shape', async () => {
    expectShape(await app.inject({ method: 'GET', url: '/storage/pins' }), 401, 'ERR_UNAUTHORIZED')
    expectShape(await app.inject({ method: 'GET', url: '/storage/pins', headers: { ...AUTH, host: 'evil.example' } }), 403, 'ERR_FORBIDDEN')
  })

  it('404 ERR_WORKSPACE_NOT_JOINED for X-Workspace: nope on /storage and on the Kubo RPC', async () => {
    expectShape(await app.inject({ method: 'GET', url: '/storage/pins', headers: { ...AUTH, 'x-workspace': 'nope' } }), 404, 'ERR_WORKSPACE_NOT_JOINED')
    const kubo = await app.inject({ method: 'POST', url: '/api/v0/pin/ls', headers: { ...AUTH, 'x-workspace': 'nope' } })
    expect(kubo.statusCode).toBe(404)
    expect(kubo.json()).toEqual({ Message: expect.stringContaining('nope'), Code: 0, Type: 'error' })
    expect(kubo.headers['x-error-code']).toBe('ERR_WORKSPACE_NOT_JOINED')
    const query = await app.inject({ method: 'POST', url: '/api/v0/repo/stat?workspace=nope', headers: AUTH })
    expect(query.statusCode).toBe(404)
  })

  it('the Kubo RPC answers its own shape for router errors too', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v0/cat%E0%A4%A', headers: AUTH })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ Message: expect.any(String), Code: 1, Type: 'error' })
  })
})
