import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { buildDashboardApp, createDashboardServer, swarmKeyFromDatabase } from '../src/dashboard/index.js'
import { describeError, formatAgo, formatBytes, percent, shortCid } from '../src/dashboard/ui/format.js'
import { createOrchestrator, DATABASE_FILE_NAME } from '../src/orchestrator/index.js'
import { PROTOCOL_VERSION } from '../src/protocol/index.js'
import type { DashboardApp } from '../src/dashboard/index.js'
import type { Orchestrator } from '../src/orchestrator/index.js'

const CID = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku' // sha256 of "hello world" as raw
const CID2 = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'

describe('dashboard API (fastify inject)', () => {
  let dir: string
  let orch: Orchestrator
  let dash: DashboardApp
  let wsA: string
  let wsB: string
  let keys: string[]
  let wsUrl: string
  let laptopToken: string
  let serverToken: string
  const bodies: string[] = []
  const memberToken = 'member-token-of-workspace-a-0123456789'

  async function call (method: string, url: string, options: { cookie?: string, payload?: unknown, headers?: Record<string, string> } = {}) {
    const res = await dash.app.inject({
      method: method as any,
      url,
      payload: options.payload as any,
      headers: { ...(options.cookie != null ? { cookie: options.cookie } : {}), ...options.headers }
    })
    bodies.push(res.body)
    return res
  }

  async function login (token: string): Promise<string> {
    const res = await call('POST', '/dashboard/api/login', { payload: { token } })
    expect(res.statusCode).toBe(200)
    const setCookie = String(res.headers['set-cookie'])
    return setCookie.split(';')[0]
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otd-api-'))
    orch = createOrchestrator({ dataDir: dir, port: 0 })
    ;({ url: wsUrl } = await orch.start())
    wsA = (await orch.createWorkspace({ id: 'ws-a', name: 'Team A' })).id
    wsB = (await orch.createWorkspace({ id: 'ws-b', name: 'Team B' })).id
    const n1 = await orch.createNode({ name: 'laptop' })
    const n2 = await orch.createNode({ name: 'server' })
    await orch.addMember(wsA, n1.node.id)
    await orch.addMember(wsA, n2.node.id)
    laptopToken = n1.token
    serverToken = n2.token
    // another connection to the file sees the orchestrator's writes at once: every method commits before it returns
    const read = swarmKeyFromDatabase(join(dir, DATABASE_FILE_NAME))
    keys = [await read(wsA), await read(wsB)]
    expect(keys).toEqual([await orch.swarmKeyFor(wsA), await orch.swarmKeyFor(wsB)])
    dash = buildDashboardApp({ orchestrator: orch, memberTokens: [{ token: memberToken, workspaceIds: [wsA] }], keepAliveMs: 200 })
  })

  afterAll(async () => {
    await dash?.close()
    await orch?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves the page, its stylesheet and its modules without a login, with a strict CSP', async () => {
    const page = await call('GET', '/dashboard/')
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    expect(page.headers['content-security-policy']).toContain("script-src 'self'")
    expect(page.body).toContain('/dashboard/ui/app.js')
    const app = await call('GET', '/dashboard/ui/app.js')
    expect(app.statusCode).toBe(200)
    expect(app.headers['content-type']).toMatch(/^text\/javascript/)
    expect(app.body).toContain("from './format.js'")
    expect(app.body).not.toMatch(/:\s*HTMLElement|interface /) // transpiled, not TypeScript
    const format = await call('GET', '/dashboard/ui/format.js')
    expect(format.body).toContain('export function formatBytes')
    expect((await call('GET', '/dashboard/style.css')).headers['content-type']).toMatch(/^text\/css/)
    expect((await call('GET', '/dashboard/ui/nope.js')).statusCode).toBe(404)
    expect((await call('GET', '/dashboard/ui/..%2fkeys.js')).statusCode).toBe(400)
    const cached = await call('GET', '/dashboard/ui/app.js', { headers: { 'if-none-match': String(app.headers.etag) } })
    expect(cached.statusCode).toBe(304)
    expect((await call('GET', '/')).headers.location).toBe('/dashboard/')
  })

  it('refuses the API without a session and with a wrong token', async () => {
    const res = await call('GET', '/dashboard/api/session')
    expect(res.statusCode).toBe(401)
    expect(res.json().error.code).toBe('ERR_UNAUTHORIZED')
    const bad = await call('POST', '/dashboard/api/login', { payload: { token: 'wrong-token-wrong-token' } })
    expect(bad.statusCode).toBe(401)
    expect(bad.headers['set-cookie']).toBeUndefined()
    expect((await call('GET', `/dashboard/api/workspaces/${wsA}`, { cookie: 'otd_session=forged' })).statusCode).toBe(401)
  })

  it('logs the admin in with an HttpOnly SameSite=Strict cookie and lists every workspace', async () => {
    const res = await call('POST', '/dashboard/api/login', { payload: { token: orch.adminToken } })
    const setCookie = String(res.headers['set-cookie'])
    expect(setCookie).toMatch(/^otd_session=[A-Za-z0-9_-]{43};/)
    expect(setCookie).toContain('HttpOnly')
    expect(setCookie).toContain('SameSite=Strict')
    expect(setCookie).toContain('Path=/dashboard')
    const cookie = setCookie.split(';')[0]
    const session = await call('GET', '/dashboard/api/session', { cookie })
    expect(session.json()).toEqual({ role: 'admin', workspaces: [{ id: wsA, name: 'Team A' }, { id: wsB, name: 'Team B' }] })
  })

  it('accepts the admin token as a bearer header too', async () => {
    const res = await call('GET', '/dashboard/api/session', { headers: { authorization: `Bearer ${orch.adminToken}` } })
    expect(res.statusCode).toBe(200)
  })

  it('limits a member to their workspaces', async () => {
    const cookie = await login(memberToken)
    const session = await call('GET', '/dashboard/api/session', { cookie })
    expect(session.json()).toEqual({ role: 'member', workspaces: [{ id: wsA, name: 'Team A' }] })
    expect((await call('GET', `/dashboard/api/workspaces/${wsA}`, { cookie })).statusCode).toBe(200)
    const other = await call('GET', `/dashboard/api/workspaces/${wsB}`, { cookie })
    expect(other.statusCode).toBe(403)
    expect(other.json().error.code).toBe('ERR_FORBIDDEN')
    expect((await call('POST', `/dashboard/api/workspaces/${wsB}/pins`, { cookie, payload: { cid: CID } })).statusCode).toBe(403)
  })

  it('shows the workspace status with nodes, totals and pins, and pins and unpins by CID', async () => {
    const cookie = await login(orch.adminToken)
    const empty = (await call('GET', `/dashboard/api/workspaces/${wsA}`, { cookie })).json()
    expect(empty.nodes.map((n: any) => n.name).sort()).toEqual(['laptop', 'server'])
    expect(empty.nodesOnline).toBe(0)
    expect(empty.storage).toEqual({ used: 0, quota: 0, free: 0 })
    expect(empty.pins).toEqual([])
    expect(empty.gateway).toBe(false)

    const pinned = await call('POST', `/dashboard/api/workspaces/${wsA}/pins`, { cookie, payload: { cid: CID, name: 'hello.txt', replicationMin: 2 } })
    expect(pinned.statusCode).toBe(201)
    const status = (await call('GET', `/dashboard/api/workspaces/${wsA}`, { cookie })).json()
    expect(status.pins).toHaveLength(1)
    expect(status.pins[0]).toMatchObject({ cid: CID, name: 'hello.txt', replicationMin: 2, replicationMax: 2, wanted: 2, copies: 0 })
    // both nodes are offline (never connected): nothing is allocated yet
    expect(status.pins[0].allocations).toEqual([])
    expect(status.nodes.map((n: any) => n.pins)).toEqual([0, 0])

    const laptop = status.nodes.find((n: any) => n.name === 'laptop')
    const node = (await call('GET', `/dashboard/api/workspaces/${wsA}/nodes/${laptop.id}`, { cookie })).json()
    expect(node.node.name).toBe('laptop')
    expect(node.node.online).toBe(false)
    expect(node.pins).toEqual([])

    expect((await call('DELETE', `/dashboard/api/workspaces/${wsA}/pins/${CID}`, { cookie })).statusCode).toBe(204)
    expect((await call('GET', `/dashboard/api/workspaces/${wsA}`, { cookie })).json().pins).toEqual([])
    const again = await call('DELETE', `/dashboard/api/workspaces/${wsA}/pins/${CID}`, { cookie })
    expect(again.statusCode).toBe(404)
  })

  it('answers readable errors: bad CID, unknown workspace, unknown node, no gateway, per-node pin on an offline node', async () => {
    const cookie = await login(orch.adminToken)
    const bad = await call('POST', `/dashboard/api/workspaces/${wsA}/pins`, { cookie, payload: { cid: 'not-a-cid' } })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.code).toBe('ERR_INVALID_CID')
    expect((await call('GET', '/dashboard/api/workspaces/ws-nope', { cookie })).json().error.code).toBe('ERR_RECORD_NOT_FOUND')
    expect((await call('GET', `/dashboard/api/workspaces/${wsA}/nodes/nope`, { cookie })).statusCode).toBe(404)
    const extra = await call('POST', `/dashboard/api/workspaces/${wsA}/pins`, { cookie, payload: { cid: CID, evil: 1 } })
    expect(extra.statusCode).toBe(400)
    const up = await call('POST', `/dashboard/api/workspaces/${wsA}/upload?name=a.txt`, { cookie, payload: Buffer.from('hi'), headers: { 'content-type': 'application/octet-stream' } })
    expect(up.statusCode).toBe(501)
    expect(up.json().error.code).toBe('ERR_GATEWAY_DISABLED')
    expect((await call('GET', `/dashboard/api/workspaces/${wsA}/content/${CID2}`, { cookie })).statusCode).toBe(501)
    const nodeId = (await orch.workspaceStatus(wsA)).nodes[0].id
    const manual = await call('POST', `/dashboard/api/workspaces/${wsA}/nodes/${nodeId}/pins`, { cookie, payload: { cid: CID } })
    expect(manual.statusCode).toBe(409)
    expect(manual.json().error.code).toBe('ERR_CONFLICT')
    const noCopy = await call('DELETE', `/dashboard/api/workspaces/${wsA}/nodes/${nodeId}/pins/${CID}`, { cookie })
    expect(noCopy.statusCode).toBe(404)
    expect(noCopy.json().error.code).toBe('ERR_RECORD_NOT_FOUND')
    expect((await call('POST', `/dashboard/api/workspaces/${wsA}/nodes/node-nope/pins`, { cookie, payload: { cid: CID } })).statusCode).toBe(404)
    expect((await call('POST', `/dashboard/api/workspaces/${wsA}/nodes/${nodeId}/pins`, { cookie, payload: { cid: 'nope' } })).json().error.code).toBe('ERR_INVALID_CID')
  })

  it('pins on and unpins from one chosen online node, and shows its drive free space', async () => {
    const cookie = await login(orch.adminToken)
    const nodes = (await orch.workspaceStatus(wsA)).nodes
    const laptop = nodes.find(n => n.name === 'laptop')!
    const server = nodes.find(n => n.name === 'server')!
    // hand-driven nodes: hello, storage report (with drive_free), ready in the workspace
    const peers = ['12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']
    const raw = [laptopToken, serverToken].map((token, i) => {
      const ws = new WebSocket(wsUrl)
      const messages: any[] = []
      ws.on('message', data => { messages.push(JSON.parse(data.toString())) })
      const send = (m: unknown): void => { ws.send(JSON.stringify(m)) }
      const next = async (type: string, cid?: string): Promise<any> => {
        const find = (): any => messages.find(m => m.type === type && (cid == null || m.cid === cid))
        await expect.poll(find, { timeout: 5000 }).toBeTruthy()
        return find()
      }
      const join = async (): Promise<void> => {
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
        send({ type: 'hello', protocol_version: PROTOCOL_VERSION, token })
        await next('welcome')
        send({ type: 'storage_report', used: 1024, quota: 8192, free: 7168 - i, drive_free: (5 + i) * 2 ** 30, workspaces: [] })
        await next('workspace_joined')
        send({ type: 'ipfs_ready', workspace_id: wsA, peer_id: peers[i], addresses: [`/ip4/127.0.0.1/tcp/${4001 + i}`] })
        send({ type: 'pin_sync', workspace_id: wsA, cids: [] })
      }
      return { ws, messages, send, next, join }
    })
    const [onLaptop, onServer] = raw
    try {
      await Promise.all(raw.map(async r => { await r.join() }))
      await expect.poll(async () => (await orch.workspaceStatus(wsA)).nodes.filter(n => n.peerId != null).length).toBe(2)

      const view = (await call('GET', `/dashboard/api/workspaces/${wsA}/nodes/${laptop.id}`, { cookie })).json()
      expect(view.node).toMatchObject({ online: true, storage: { used: 1024, quota: 8192, free: 7168, driveFree: 5 * 2 ** 30 } })

      // pin on the laptop only (placement would have picked it too; the server is the manual choice next)
      const pinned = await call('POST', `/dashboard/api/workspaces/${wsA}/nodes/${laptop.id}/pins`, { cookie, payload: { cid: CID2, name: 'manual.bin' } })
      expect(pinned.statusCode).toBe(201)
      expect(pinned.json()).toMatchObject({ cid: CID2, name: 'manual.bin', replicationMax: 1 })
      expect(await onLaptop.next('pin_content', CID2)).toMatchObject({ workspace_id: wsA, name: 'manual.bin' })
      onLaptop.send({ type: 'content_pinned', workspace_id: wsA, cid: CID2, size: 11 })
      await expect.poll(async () => (await orch.pinStatus(wsA, CID2)).copies).toBe(1)
      expect(onServer.messages.some(m => m.type === 'pin_content')).toBe(false)
      const withPin = (await call('GET', `/dashboard/api/workspaces/${wsA}/nodes/${laptop.id}`, { cookie })).json()
      expect(withPin.pins).toMatchObject([{ cid: CID2, state: 'pinned', size: 11 }])

      // and on the server too: a second copy, the laptop's stays
      expect((await call('POST', `/dashboard/api/workspaces/${wsA}/nodes/${server.id}/pins`, { cookie, payload: { cid: CID2 } })).json()).toMatchObject({ replicationMax: 2 })
      await onServer.next('pin_content', CID2)
      onServer.send({ type: 'content_pinned', workspace_id: wsA, cid: CID2, size: 11 })
      await expect.poll(async () => (await orch.pinStatus(wsA, CID2)).copies).toBe(2)

      // unpin from the laptop: the server keeps its copy
      const unpinned = await call('DELETE', `/dashboard/api/workspaces/${wsA}/nodes/${laptop.id}/pins/${CID2}`, { cookie })
      expect(unpinned.statusCode).toBe(204)
      await onLaptop.next('unpin_content', CID2)
      onLaptop.send({ type: 'content_unpinned', workspace_id: wsA, cid: CID2 })
      await expect.poll(async () => (await orch.pinStatus(wsA, CID2)).allocations.map(a => [a.nodeId, a.state])).toEqual([[server.id, 'pinned']])
      expect(await orch.pinStatus(wsA, CID2)).toMatchObject({ replicationMax: 1, copies: 1 })
      expect(onServer.messages.some(m => m.type === 'unpin_content')).toBe(false)
      expect((await call('GET', `/dashboard/api/workspaces/${wsA}/nodes/${laptop.id}`, { cookie })).json().pins).toEqual([])
    } finally {
      for (const r of raw) r.ws.terminate()
      await expect.poll(async () => (await orch.workspaceStatus(wsA)).nodesOnline).toBe(0)
      await orch.unpin(wsA, CID2)
    }
  })

  it('logs out: the cookie stops working', async () => {
    const cookie = await login(orch.adminToken)
    const out = await call('POST', '/dashboard/api/logout', { cookie })
    expect(out.statusCode).toBe(204)
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0')
    expect((await call('GET', '/dashboard/api/session', { cookie })).statusCode).toBe(401)
  })

  it('streams the workspace\'s changes as server-sent events, and no other workspace\'s', async () => {
    const server = createDashboardServer({ orchestrator: orch, port: 0, keepAliveMs: 100 })
    const url = new URL(await server.start())
    try {
      const res = await dash.app.inject({ method: 'POST', url: '/dashboard/api/login', payload: { token: orch.adminToken } })
      const cookieOther = String(res.headers['set-cookie']).split(';')[0]
      // sessions are per app: log in on the listening server
      const login2 = await fetch(new URL('/dashboard/api/login', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: orch.adminToken }) })
      const cookie = String(login2.headers.get('set-cookie')).split(';')[0]
      expect(cookieOther).not.toBe(cookie)
      const received: string[] = []
      let subscribed: () => void = () => {}
      const streaming = new Promise<void>(resolve => { subscribed = resolve })
      const done = new Promise<void>((resolve, reject) => {
        const req = request(new URL(`/dashboard/api/events?workspace=${wsA}`, url), { headers: { cookie } }, (r) => {
          expect(r.headers['content-type']).toMatch(/^text\/event-stream/)
          r.setEncoding('utf8')
          r.on('data', (chunk: string) => {
            received.push(chunk)
            // subscribed, and a keep-alive went by
            if (received.join('').includes(': keep-alive')) subscribed()
            if (received.join('').includes('"pin:added"')) { req.destroy(); resolve() }
          })
        })
        req.on('error', (err) => { if (!received.join('').includes('pin:added')) reject(err) })
        req.end()
      })
      await streaming
      await orch.pin(wsB, { cid: CID2 })
      await orch.pin(wsA, { cid: CID2 })
      await done
      const text = received.join('')
      expect(text).toContain(': keep-alive')
      expect(text).toContain(`"workspaceId":"${wsA}"`)
      expect(text).not.toContain(`"workspaceId":"${wsB}"`)
      bodies.push(text)
      const denied = await fetch(new URL('/dashboard/api/events?workspace=ws-a', url))
      expect(denied.status).toBe(401)
    } finally {
      await server.stop()
    }
  })

  it('never returns a swarm key in any page, module or API answer', () => {
    expect(keys).toHaveLength(2)
    const all = bodies.join('\n').toLowerCase()
    for (const key of keys) {
      expect(key).toMatch(/^[0-9a-f]{64}$/)
      expect(all).not.toContain(key.toLowerCase())
    }
  })
})

describe('dashboard formatting', () => {
  it('formats sizes, percentages, ages and CIDs for people', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(10 * 2 ** 30)).toBe('10 GiB')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(null)).toBe('—')
    expect(percent(50, 200)).toBe(25)
    expect(percent(5, 0)).toBe(0)
    expect(percent(300, 200)).toBe(100)
    expect(formatAgo(null)).toBe('never')
    expect(formatAgo(1000, 1000 + 125_000)).toBe('2 min ago')
    expect(shortCid(CID)).toBe('bafkreih…nxquvyku'.slice(0, 8) + '…' + CID.slice(-6))
    expect(describeError({ code: 'ERR_QUOTA_EXCEEDED', used: 900, limit: 1024, requested: 4096 })).toBe(
      'Not enough storage: this needs 4 KiB but only 124 B of 1 KiB is free. Free some space or add a node.')
  })
})
