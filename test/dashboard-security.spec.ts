/**
 * Issue #13: no protected dashboard route answers without credentials,
 * whatever the path's encoding; every dashboard and admin error, fastify's
 * own included, answers `{ error: { code, message } }` with the right status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildDashboardApp } from '../src/dashboard/index.js'
import type { DashboardApp } from '../src/dashboard/index.js'
import { createOrchestratorServer } from '../src/server/index.js'
import type { OrchestratorServer } from '../src/server/index.js'

const CID = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'

/** Protected routes as [method, path after /dashboard/api/]. */
const PROTECTED: Array<[string, string]> = [
  ['GET', 'session'],
  ['GET', 'workspaces/ws-a'],
  ['GET', 'workspaces/ws-a/nodes/node-x'],
  ['GET', 'events?workspace=ws-a'],
  ['GET', `workspaces/ws-a/content/${CID}`],
  ['POST', 'workspaces/ws-a/pins'],
  ['DELETE', `workspaces/ws-a/pins/${CID}`],
  ['POST', 'workspaces/ws-a/upload'],
  ['DELETE', `workspaces/ws-a/nodes/node-x/pins/${CID}`]
]

/** Ways to write `/dashboard/api/<rest>`. */
function variants (rest: string): string[] {
  const [first, ...others] = rest.split('/')
  const tail = others.length > 0 ? '/' + others.join('/') : ''
  return [
    `/dashboard/api/${rest}`,
    `/dashboard/%61pi/${rest}`,
    `/dashboard/%61%70%69/${rest}`,
    `/dashboard/%2561pi/${rest}`,
    `/%64ashboard/api/${rest}`,
    `/dashboard%2Fapi%2F${rest}`,
    `/dashboard%2fapi/${rest}`,
    `/dashboard/api%2F${first}${tail}`,
    `//dashboard//api//${rest}`,
    `/dashboard/./api/./${rest}`,
    `/dashboard/x/../api/${rest}`,
    `/dashboard/api/x/../${rest}`,
    `/DASHBOARD/API/${rest}`,
    `/Dashboard/Api/${rest}`,
    `/dashboard/API/${rest}`,
    `/dashboard/%41PI/${rest}`,
    `/dashboard/api/${rest.includes('?') ? rest.replace('?', '/?') : rest + '/'}`,
    `/dashboard/api/${first.replace(/^./, c => '%' + c.charCodeAt(0).toString(16))}${tail}`
  ]
}

describe('dashboard authorisation and error shape', () => {
  let server: OrchestratorServer
  let adminUrl: string
  let standalone: DashboardApp

  beforeAll(async () => {
    server = createOrchestratorServer({ databasePath: ':memory:', port: 0, dashboard: true })
    ;({ adminUrl } = await server.start())
    await server.createWorkspace({ id: 'ws-a', name: 'A' })
    standalone = buildDashboardApp({ orchestrator: server })
  })

  afterAll(async () => {
    await standalone?.close()
    await server?.stop()
  })

  it('answers 401 or 404 (never 200 or 500) to every encoding of a protected route without credentials', async () => {
    const seen = new Map<string, number>()
    for (const [method, rest] of PROTECTED) {
      for (const url of variants(rest)) {
        // over the wire (the orchestrator's own port) and through inject (the standalone app)
        const res = await fetch(adminUrl + url, { method, headers: method === 'POST' ? { 'content-type': 'application/json' } : {}, body: method === 'POST' ? JSON.stringify({ cid: CID }) : undefined })
        const body = await res.text()
        seen.set(`${method} ${url} (server)`, res.status)
        expect([401, 404], `${method} ${url} -> ${res.status} ${body.slice(0, 200)}`).toContain(res.status)
        expect(JSON.parse(body).error.code).toMatch(/^ERR_/)
        const injected = await standalone.app.inject({ method: method as 'GET', url, ...(method === 'POST' ? { payload: { cid: CID } } : {}) })
        expect([401, 404], `${method} ${url} (inject) -> ${injected.statusCode} ${injected.body.slice(0, 200)}`).toContain(injected.statusCode)
        expect(injected.json().error.code).toMatch(/^ERR_/)
      }
    }
    // the plain and the %61 spelling both reach the route and are refused by the login check
    expect(seen.get('GET /dashboard/api/session (server)')).toBe(401)
    expect(seen.get('GET /dashboard/%61pi/session (server)')).toBe(401)
  })

  it('answers fastify\'s own errors in the documented shape, on the dashboard and on the admin API', async () => {
    const auth = { authorization: `Bearer ${server.adminToken}` }
    const cases: Array<{ path: string, init: RequestInit, status: number, code: string }> = [
      { path: '/dashboard/api/login', init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":' }, status: 400, code: 'ERR_INVALID_ARGUMENT' },
      { path: '/dashboard/api/login', init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'x'.repeat(2 * 2 ** 20) }) }, status: 413, code: 'ERR_PAYLOAD_TOO_LARGE' },
      { path: '/dashboard/api/login', init: { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<token/>' }, status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' },
      { path: '/dashboard/api/nope', init: { method: 'GET', headers: auth }, status: 404, code: 'ERR_ROUTE_NOT_FOUND' },
      { path: '/workspaces', init: { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"name":' }, status: 400, code: 'ERR_INVALID_ARGUMENT' },
      { path: '/workspaces', init: { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(2 * 2 ** 20) }) }, status: 413, code: 'ERR_PAYLOAD_TOO_LARGE' },
      { path: '/workspaces', init: { method: 'POST', headers: { ...auth, 'content-type': 'application/xml' }, body: '<name/>' }, status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' },
      { path: '/no/such/route', init: { method: 'GET', headers: auth }, status: 404, code: 'ERR_ROUTE_NOT_FOUND' }
    ]
    for (const c of cases) {
      const res = await fetch(adminUrl + c.path, c.init)
      const body = await res.json() as { error: { code: string, message: string } }
      expect({ path: c.path, status: res.status, code: body.error.code }).toEqual({ path: c.path, status: c.status, code: c.code })
      expect(typeof body.error.message).toBe('string')
    }
    // the standalone dashboard app too
    const bad = await standalone.app.inject({ method: 'POST', url: '/dashboard/api/login', headers: { 'content-type': 'application/json' }, payload: '{"token":' })
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'ERR_INVALID_ARGUMENT'])
    const large = await standalone.app.inject({ method: 'POST', url: '/dashboard/api/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ token: 'x'.repeat(2 * 2 ** 20) }) })
    expect([large.statusCode, large.json().error.code]).toEqual([413, 'ERR_PAYLOAD_TOO_LARGE'])
    const missing = await standalone.app.inject({ method: 'GET', url: '/nope' })
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'ERR_ROUTE_NOT_FOUND'])
  })
})
