/**
 * The orchestrator over real WebSockets, run twice: on SQLite and on PostgreSQL (one instance).
 *
 * Longer than our ~400-line guide on purpose: it is the store-independent behaviour suite of the
 * orchestrator (sessions, membership, placement, re-pinning, keys), and one file keeps it one list
 * that both stores pass; the PostgreSQL-only cluster behaviour is in orchestrator-pg-cluster.spec.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it, expect } from 'vitest'
import WebSocket from 'ws'
import { BOOTSTRAP_COALESCE_MS, createManualTime, createOrchestrator, DATABASE_FILE_NAME } from '../src/orchestrator/index.js'
import { sql, usePostgres } from './helpers/postgres.js'
import type { Orchestrator, OrchestratorEvent } from '../src/orchestrator/index.js'
import { MAX_FRAME_BYTES, PROTOCOL_VERSION } from '../src/protocol/index.js'

const CIDS = [
  'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
  'bafkreidivzimqfqtoqxkrpge6bjyhlvxqs3rhe73owtmdulaxr5do5in7u',
  'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
]
const PEER = (n: number): string => ['12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'][n]

type Msg = Record<string, any> & { type: string }

/** A hand-driven node: a raw ws client that records every message. */
class RawNode {
  readonly ws: WebSocket
  readonly messages: Msg[] = []
  closeCode: number | undefined
  readonly #waiters = new Set<() => void>()
  readonly opened: Promise<void>
  readonly closed: Promise<number>

  constructor (url: string) {
    this.ws = new WebSocket(url)
    this.ws.on('error', () => {})
    this.opened = new Promise((resolve, reject) => { this.ws.once('open', () => resolve()); this.ws.once('error', reject) })
    this.closed = new Promise(resolve => this.ws.once('close', (code) => { this.closeCode = code; this.#poke(); resolve(code) }))
    this.ws.on('message', (raw) => { this.messages.push(JSON.parse(raw.toString())); this.#poke() })
  }

  #poke (): void { for (const w of this.#waiters) w() }

  send (m: unknown): void { this.ws.send(typeof m === 'string' ? m : JSON.stringify(m)) }

  async waitFor (pred: (m: Msg) => boolean, timeout = 5000, from = 0): Promise<Msg> {
    const deadline = performance.now() + timeout
    for (;;) {
      const found = this.messages.slice(from).find(pred)
      if (found != null) return found
      if (performance.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(this.messages.map(m => m.type))}`)
      await new Promise<void>(resolve => {
        const w = (): void => { this.#waiters.delete(w); clearTimeout(t); resolve() }
        const t = setTimeout(w, 50)
        this.#waiters.add(w)
      })
    }
  }

  of (type: string): Msg[] { return this.messages.filter(m => m.type === type) }

  /**
   * Waits until the orchestrator has handled everything this node sent so far
   * (and sent what that caused): a second hello is answered in order, after the rest.
   */
  async barrier (): Promise<void> {
    const from = this.messages.length
    this.send({ type: 'hello', protocol_version: PROTOCOL_VERSION, token: 'ot_barrier' })
    await this.waitFor(m => m.type === 'error' && m.in_reply_to === 'hello', 5000, from)
  }

  async hello (token: string): Promise<Msg> {
    await this.opened
    this.send({ type: 'hello', protocol_version: PROTOCOL_VERSION, token })
    return await this.waitFor(m => m.type === 'welcome' || m.type === 'error')
  }

  /** hello, storage report, then ipfs_ready + pin_sync for every workspace_joined. */
  async join (token: string, peer: string, free: number, have: Record<string, string[]> = {}): Promise<void> {
    const w = await this.hello(token)
    expect(w.type).toBe('welcome')
    this.send({ type: 'storage_report', used: 0, quota: free, free, workspaces: [] })
    const joined = await this.waitFor(m => m.type === 'workspace_joined')
    this.ready(joined.workspace_id, peer, have[joined.workspace_id] ?? [])
  }

  ready (workspaceId: string, peer: string, cids: string[] = []): void {
    this.send({ type: 'ipfs_ready', workspace_id: workspaceId, peer_id: peer, addresses: [`/ip4/127.0.0.1/tcp/${4000 + Math.floor(Math.random() * 1000)}`] })
    this.send({ type: 'pin_sync', workspace_id: workspaceId, cids })
  }

  close (): void { this.ws.close() }
}

// the same behaviour on both engines: the SQLite file, and PostgreSQL (one instance, leading)
const postgres = usePostgres()
// where PostgreSQL cannot be started, usePostgres says why and only the SQLite run is left
const engines = (['sqlite', 'postgres'] as const).filter(e => e === 'sqlite' || postgres.skip == null).map(engine => ({ engine }))

describe.each(engines)('orchestrator ($engine)', ({ engine }) => {
  let dbOptions: { dataDir: string } | { database: string }
  let dir: string
  let orch: Orchestrator
  let url: string
  let adminUrl: string
  const nodes: RawNode[] = []

  const connect = (): RawNode => { const n = new RawNode(url); nodes.push(n); return n }

  /**
   * Everything the orchestrator will send `n` for what happened so far has
   * arrived: its batches are flushed (`settled`), then a frame that gets an
   * error back makes a round trip behind them on the same socket.
   */
  const drained = async (n: RawNode): Promise<void> => {
    await orch.settled()
    const from = n.messages.length
    n.send({ type: 'round_trip' })
    await n.waitFor(m => m.type === 'error', 5000, from)
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orch-test-'))
    dbOptions = engine === 'sqlite' ? { dataDir: dir } : { database: await postgres.createDatabase() }
    orch = createOrchestrator({ ...dbOptions, port: 0, repinGraceMs: 400, authTimeoutMs: 2000 })
    ;({ url, adminUrl } = await orch.start())
  })

  afterEach(async () => {
    for (const n of nodes.splice(0)) n.ws.terminate()
    await orch.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('listens on 127.0.0.1 and stores state in a SQLite file (or PostgreSQL: no file)', async () => {
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/)
    expect(adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const { readdir } = await import('node:fs/promises')
    if (engine === 'sqlite') expect(await readdir(dir)).toContain(DATABASE_FILE_NAME)
    else expect(await readdir(dir)).toEqual([])
    expect(orch.isLeader).toBe(true)
  })

  it('refuses a bad token before sending anything else, and stays alive', async () => {
    const ws = await orch.createWorkspace({ name: 'w' })
    const { node } = await orch.createNode({ name: 'n' })
    await orch.addMember(ws.id, node.id)
    const bad = connect()
    const reply = await bad.hello('ot_wrong')
    expect(reply).toMatchObject({ type: 'error', code: 'ERR_UNAUTHORIZED' })
    expect(await bad.closed).toBe(4001)
    expect(bad.messages.map(m => m.type)).toEqual(['error'])

    const missing = connect()
    await missing.opened
    missing.send({ type: 'hello', protocol_version: PROTOCOL_VERSION })
    await missing.closed
    expect(missing.messages.map(m => m.type)).toEqual(['error'])

    const oldVersion = connect()
    const { token } = await orch.createNode({ name: 'x' })
    await oldVersion.opened
    oldVersion.send({ type: 'hello', protocol_version: 999, token })
    expect(await oldVersion.closed).toBe(4002)
    expect(oldVersion.of('error')[0].code).toBe('ERR_PROTOCOL_VERSION')
  })

  it('refuses messages before authentication', async () => {
    const n = connect()
    await n.opened
    n.send({ type: 'pin_sync', workspace_id: 'w', cids: [] })
    expect(await n.closed).toBe(4001)
    expect(n.messages.map(m => m.type)).toEqual(['error'])

    const junk = connect()
    await junk.opened
    junk.send('{not json')
    expect(await junk.closed).toBe(4000)
    expect(junk.of('error')[0].code).toBe('ERR_INVALID_MESSAGE')
  })

  it('answers malformed JSON, unknown types and wrong fields with error, keeping the connection', async () => {
    const { token } = await orch.createNode({ name: 'n' })
    const n = connect()
    expect((await n.hello(token)).type).toBe('welcome')
    n.send('{oops')
    n.send({ type: 'self_destruct' })
    n.send({ type: 'content_pinned', workspace_id: 'w', cid: 'nope', size: 1 })
    n.send(Buffer.from([1, 2, 3]))
    await n.waitFor(() => n.of('error').length >= 4)
    expect(n.of('error').every(e => e.code === 'ERR_INVALID_MESSAGE')).toBe(true)
    expect(n.closeCode).toBeUndefined()
    n.send({ type: 'storage_report', used: 1, quota: 2, free: 1, workspaces: [] })
    await expect.poll(async () => (await orch.getNode((await orch.listNodes())[0].id)).storage?.free).toBe(1)
  })

  it('closes on an oversized frame and keeps serving others', async () => {
    const { token } = await orch.createNode({ name: 'n' })
    const n = connect()
    await n.hello(token)
    n.send('x'.repeat(MAX_FRAME_BYTES + 10))
    expect(await n.closed).toBe(1009)
    const again = connect()
    expect((await again.hello(token)).type).toBe('welcome')
  })

  it('closes a connection that never says hello', async () => {
    await orch.stop()
    orch = createOrchestrator({ databasePath: ':memory:', port: 0, authTimeoutMs: 100 })
    ;({ url } = await orch.start())
    const n = connect()
    expect(await n.closed).toBe(4008)
  })

  it('never gives a workspace key to a node that is not a member', async () => {
    const a = await orch.createWorkspace({ id: 'alpha', name: 'A' })
    await orch.createWorkspace({ id: 'beta', name: 'B' })
    const member = await orch.createNode({ name: 'member' })
    const outsider = await orch.createNode({ name: 'outsider' })
    await orch.addMember(a.id, member.node.id)
    const m = connect()
    const o = connect()
    await m.join(member.token, PEER(0), 1000)
    expect((await o.hello(outsider.token)).type).toBe('welcome')
    o.send({ type: 'ipfs_ready', workspace_id: 'alpha', peer_id: PEER(1), addresses: ['/ip4/127.0.0.1/tcp/1'] })
    o.send({ type: 'pin_sync', workspace_id: 'alpha', cids: [] })
    o.send({ type: 'content_pinned', workspace_id: 'alpha', cid: CIDS[0], size: 1 })
    o.send({ type: 'pin_failed', workspace_id: 'alpha', cid: CIDS[0], error: { code: 'ERR_TIMEOUT', message: 'x' } })
    o.send({ type: 'content_unpinned', workspace_id: 'alpha', cid: CIDS[0] })
    await o.waitFor(() => o.of('error').length >= 5)
    expect(o.of('error').map(e => [e.code, e.in_reply_to])).toEqual(['ipfs_ready', 'pin_sync', 'content_pinned', 'pin_failed', 'content_unpinned'].map(t => ['ERR_FORBIDDEN', t]))
    await orch.pin('alpha', { cid: CIDS[0], replicationMin: 1, replicationMax: -1 })
    await m.waitFor(x => x.type === 'pin_content')
    // pin() sent its messages before returning: anything for o came before the barrier's answer
    await o.barrier()
    expect(o.messages.some(x => x.type === 'workspace_joined' || x.type === 'pin_content' || x.type === 'bootstrap_update')).toBe(false)
    expect(JSON.stringify(o.messages)).not.toContain(m.of('workspace_joined')[0].ipfs_swarm_key)
  })

  it('bootstraps peers: a joining node learns online peers, the others get bootstrap_update', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const tokens = await Promise.all([0, 1].map(async i => { const c = await orch.createNode({ name: `n${i}` }); await orch.addMember('w', c.node.id); return c.token }))
    const a = connect()
    await a.join(tokens[0], PEER(0), 100)
    expect(a.of('workspace_joined')[0]).toMatchObject({ workspace_id: 'w', key_version: 1, bootstrap_peers: [] })
    expect(a.of('workspace_joined')[0].ipfs_swarm_key).toMatch(/^[0-9a-f]{64}$/)
    await expect.poll(async () => (await orch.workspaceStatus('w')).nodes.find(n => n.peerId === PEER(0))).toBeTruthy()
    const b = connect()
    await b.join(tokens[1], PEER(1), 100)
    const joinedB = b.of('workspace_joined')[0]
    expect(joinedB.bootstrap_peers).toHaveLength(1)
    expect(joinedB.bootstrap_peers[0]).toContain(`/p2p/${PEER(0)}`)
    expect(joinedB.ipfs_swarm_key).toBe(a.of('workspace_joined')[0].ipfs_swarm_key)
    const update = await a.waitFor(m => m.type === 'bootstrap_update')
    expect(update.peers[0]).toContain(`/p2p/${PEER(1)}`)
  })

  it('places a pin on the members with the most free space, re-pins after the grace period, trims when the node returns', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const creds = await Promise.all([0, 1, 2].map(async i => { const c = await orch.createNode({ name: `n${i}` }); await orch.addMember('w', c.node.id); return c }))
    const events: OrchestratorEvent[] = []
    orch.onChange(e => events.push(e))
    const raw = creds.map(() => connect())
    await raw[0].join(creds[0].token, PEER(0), 1000)
    await raw[1].join(creds[1].token, PEER(1), 3000)
    await raw[2].join(creds[2].token, PEER(2), 2000)
    await expect.poll(async () => (await orch.workspaceStatus('w')).nodesOnline).toBe(3)
    for (const r of raw) await r.barrier()

    await orch.pin('w', { cid: CIDS[0], replicationMin: 2, replicationMax: 2, name: 'a.bin' })
    const p1 = await raw[1].waitFor(m => m.type === 'pin_content')
    await raw[2].waitFor(m => m.type === 'pin_content')
    expect(p1).toMatchObject({ workspace_id: 'w', cid: CIDS[0], name: 'a.bin' })
    expect(raw[0].of('pin_content')).toHaveLength(0)
    raw[1].send({ type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 42 })
    raw[2].send({ type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 42 })
    await expect.poll(async () => (await orch.pinStatus('w', CIDS[0])).copies).toBe(2)
    expect(await orch.pinStatus('w', CIDS[0])).toMatchObject({ size: 42, status: 'pinned' })
    expect(events.some(e => e.type === 'allocation' && e.state === 'pinned')).toBe(true)

    // node 1 goes away: nothing happens before the grace period, then node 0 gets the pin
    const closedAt = performance.now()
    raw[1].close()
    await expect.poll(async () => (await orch.workspaceStatus('w')).nodesOnline).toBe(2)
    await raw[0].waitFor(m => m.type === 'pin_content', 3000)
    // not before the grace period (400 ms) from the close: the orchestrator saw the close after closedAt
    expect(performance.now() - closedAt).toBeGreaterThanOrEqual(400)
    raw[0].send({ type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 42 })
    await expect.poll(async () => (await orch.pinStatus('w', CIDS[0])).allocations.filter(a => a.state === 'pinned').length).toBe(3)

    // node 1 returns with the content: one copy is surplus and gets unpinned somewhere
    const back = connect()
    await back.join(creds[1].token, PEER(1), 3000, { w: [CIDS[0]] })
    await expect.poll(async () => (await orch.pinStatus('w', CIDS[0])).allocations.filter(a => a.state === 'unpinning').length).toBe(1)
    const surplus = (await orch.pinStatus('w', CIDS[0])).allocations.find(a => a.state === 'unpinning')!
    const holder = [raw[0], back, raw[2]][creds.findIndex(c => c.node.id === surplus.nodeId)]
    await holder.waitFor(m => m.type === 'unpin_content')
    holder.send({ type: 'content_unpinned', workspace_id: 'w', cid: CIDS[0] })
    await expect.poll(async () => (await orch.pinStatus('w', CIDS[0])).allocations.length).toBe(2)
  })

  it('moves a failed pin to another node and reconciles pin_sync (missing re-pinned, unwanted unpinned)', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const creds = await Promise.all([0, 1].map(async i => { const c = await orch.createNode({ name: `n${i}` }); await orch.addMember('w', c.node.id); return c }))
    const a = connect()
    const b = connect()
    await a.join(creds[0].token, PEER(0), 5000)
    await b.join(creds[1].token, PEER(1), 1000)
    await a.barrier()
    await b.barrier()
    await orch.pin('w', { cid: CIDS[0], replicationMin: 1 })
    await a.waitFor(m => m.type === 'pin_content')
    a.send({ type: 'pin_failed', workspace_id: 'w', cid: CIDS[0], error: { code: 'ERR_QUOTA_EXCEEDED', message: 'full' } })
    await b.waitFor(m => m.type === 'pin_content')
    b.send({ type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 1 })
    await expect.poll(async () => (await orch.pinStatus('w', CIDS[0])).status).toBe('pinned')
    expect((await orch.pinStatus('w', CIDS[0])).allocations.find(x => x.nodeId === creds[0].node.id)?.error?.code).toBe('ERR_QUOTA_EXCEEDED')

    // b reconnects having lost the content and holding an unknown CID
    b.close()
    await b.closed
    const b2 = connect()
    await b2.join(creds[1].token, PEER(1), 1000, { w: [CIDS[2]] })
    await b2.waitFor(m => m.type === 'pin_content' && m.cid === CIDS[0])
    await b2.waitFor(m => m.type === 'unpin_content' && m.cid === CIDS[2])
  })

  it('gives replicationMax -1 pins to every member, including later ones', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const c0 = await orch.createNode({ name: 'n0' })
    const c1 = await orch.createNode({ name: 'n1' })
    await orch.addMember('w', c0.node.id)
    const a = connect()
    await a.join(c0.token, PEER(0), 10)
    await a.barrier()
    await orch.pin('w', { cid: CIDS[1], replicationMin: 1, replicationMax: -1 })
    await a.waitFor(m => m.type === 'pin_content')
    await orch.addMember('w', c1.node.id)
    const b = connect()
    await b.join(c1.token, PEER(1), 10)
    await b.waitFor(m => m.type === 'pin_content' && m.cid === CIDS[1])
  })

  it('rotates a key: online members now, offline members on reconnect', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const creds = await Promise.all([0, 1].map(async i => { const c = await orch.createNode({ name: `n${i}` }); await orch.addMember('w', c.node.id); return c }))
    const a = connect()
    await a.join(creds[0].token, PEER(0), 10)
    const before = a.of('workspace_joined')[0]
    const rotation = await orch.rotateKey('w')
    expect(rotation.keyVersion).toBe(2)
    const after = await a.waitFor(m => m.type === 'workspace_joined' && m.key_version === 2)
    expect(after.ipfs_swarm_key).not.toBe(before.ipfs_swarm_key)
    const b = connect()
    await b.hello(creds[1].token)
    const joined = await b.waitFor(m => m.type === 'workspace_joined')
    expect(joined).toMatchObject({ key_version: 2, ipfs_swarm_key: after.ipfs_swarm_key })
  })

  it('removing a member sends workspace_left and refuses its later messages', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const c = await orch.createNode({ name: 'n' })
    await orch.addMember('w', c.node.id)
    const a = connect()
    await a.join(c.token, PEER(0), 10)
    await orch.removeMember('w', c.node.id, { purge: true })
    expect(await a.waitFor(m => m.type === 'workspace_left')).toMatchObject({ workspace_id: 'w', purge: true })
    a.send({ type: 'pin_sync', workspace_id: 'w', cids: [] })
    expect((await a.waitFor(m => m.type === 'error')).code).toBe('ERR_FORBIDDEN')
  })

  it('keeps everything across a restart on the same database', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const c = await orch.createNode({ name: 'n' })
    await orch.addMember('w', c.node.id)
    await orch.pin('w', { cid: CIDS[0], replicationMin: 1, name: 'x' })
    const key = (await orch.getWorkspace('w')).keyFingerprint
    const adminToken = orch.adminToken
    await orch.stop()
    orch = createOrchestrator({ ...dbOptions, port: 0, adminToken })
    ;({ url } = await orch.start())
    expect(await orch.getWorkspace('w')).toMatchObject({ keyFingerprint: key, members: [c.node.id] })
    expect(await orch.pinStatus('w', CIDS[0])).toMatchObject({ name: 'x', replicationMin: 1 })
    const a = connect()
    await a.join(c.token, PEER(0), 10)
    await a.waitFor(m => m.type === 'pin_content' && m.cid === CIDS[0])
  })

  it('serves the admin API with bearer auth, schemas and { error: { code, message } }', async () => {
    const auth = { authorization: `Bearer ${orch.adminToken}` }
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = auth): Promise<{ status: number, json: any }> => {
      const res = await fetch(`${adminUrl}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
      const text = await res.text()
      return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
    }
    expect((await call('GET', '/health', undefined, {})).status).toBe(200)
    const unauth = await call('GET', '/workspaces', undefined, { authorization: 'Bearer nope' })
    expect(unauth).toMatchObject({ status: 401, json: { error: { code: 'ERR_UNAUTHORIZED' } } })
    const created = await call('POST', '/workspaces', { id: 'team', name: 'Team' })
    expect(created.status).toBe(201)
    expect(created.json).toMatchObject({ id: 'team', keyVersion: 1 })
    expect(JSON.stringify(created.json)).not.toMatch(/[0-9a-f]{64}/)
    expect((await call('POST', '/workspaces', { id: 'team', name: 'Again' })).json.error.code).toBe('ERR_CONFLICT')
    expect((await call('POST', '/workspaces', { id: '../x', name: 'Bad' })).json.error.code).toBe('ERR_INVALID_WORKSPACE_ID')
    expect((await call('POST', '/workspaces', { name: 'X', extra: 1 })).status).toBe(400)
    const node = await call('POST', '/nodes', { name: 'laptop' })
    expect(node.status).toBe(201)
    expect(node.json.token).toMatch(/^ot_/)
    expect((await call('GET', '/nodes')).json.nodes[0]).not.toHaveProperty('token')
    expect((await call('PUT', `/workspaces/team/members/${node.json.node.id as string}`)).status).toBe(204)
    expect((await call('PUT', '/workspaces/team/members/node-nope')).status).toBe(404)
    const pin = await call('POST', '/workspaces/team/pins', { cid: CIDS[0], replicationMin: 1, replicationMax: 2, name: 'f', size: 10 })
    expect(pin).toMatchObject({ status: 201, json: { cid: CIDS[0], size: 10, replicationMax: 2 } })
    expect((await call('POST', '/workspaces/team/pins', { cid: 'nope' })).json.error.code).toBe('ERR_INVALID_CID')
    expect((await call('POST', '/workspaces/team/pins', { cid: CIDS[0], replicationMin: 3, replicationMax: 2 })).json.error.code).toBe('ERR_INVALID_ARGUMENT')
    const status = await call('GET', '/workspaces/team/status')
    expect(status.json).toMatchObject({ nodesOnline: 0, pins: [{ cid: CIDS[0], size: 10 }] })
    expect(status.json.nodes[0]).toMatchObject({ id: node.json.node.id, online: false })
    expect((await call('POST', '/workspaces/team/rotate-key')).json.keyVersion).toBe(2)
    expect((await call('DELETE', `/workspaces/team/pins/${CIDS[0]}`)).status).toBe(204)
    expect((await call('DELETE', `/workspaces/team/pins/${CIDS[0]}`)).json.error.code).toBe('ERR_RECORD_NOT_FOUND')
    expect((await call('DELETE', `/workspaces/team/members/${node.json.node.id as string}?purge=true`)).status).toBe(204)
    expect((await call('GET', '/nope')).status).toBe(404)
  })

  it('pins on and unpins from a chosen node, keeping the other copies', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const creds = await Promise.all([0, 1, 2].map(async i => { const c = await orch.createNode({ name: `n${i}` }); await orch.addMember('w', c.node.id); return c }))
    const raw = creds.map(() => connect())
    await raw[0].join(creds[0].token, PEER(0), 3000)
    await raw[1].join(creds[1].token, PEER(1), 2000)
    await raw[2].join(creds[2].token, PEER(2), 1000)
    await expect.poll(async () => (await orch.workspaceStatus('w')).nodes.filter(n => n.peerId != null).length).toBe(3)
    for (const r of raw) await r.barrier()
    const [n0, n1, n2] = creds.map(c => c.node.id)

    // placement picks node 0 (most free); the manual pin adds node 2, and max grows so neither copy is surplus
    await orch.pin('w', { cid: CIDS[0], replicationMin: 1, name: 'a.bin' })
    await raw[0].waitFor(m => m.type === 'pin_content' && m.cid === CIDS[0])
    const manual = await orch.pinOnNode('w', n2, { cid: CIDS[0] })
    expect(manual).toMatchObject({ replicationMin: 1, replicationMax: 2, name: 'a.bin' })
    expect(await raw[2].waitFor(m => m.type === 'pin_content' && m.cid === CIDS[0])).toMatchObject({ workspace_id: 'w', name: 'a.bin' })
    raw[0].send({ type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 5 })
    raw[2].send({ type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 5 })
    await expect.poll(async () => (await orch.pinStatus('w', CIDS[0])).copies).toBe(2)
    // whatever content_pinned caused was sent before the barriers' answers
    await raw[0].barrier()
    await raw[2].barrier()
    expect([...raw[0].of('unpin_content'), ...raw[2].of('unpin_content')]).toHaveLength(0)
    expect(raw[1].of('pin_content')).toHaveLength(0)
    // pinning again on a node that holds it changes nothing
    expect(await orch.pinOnNode('w', n2, { cid: CIDS[0] })).toMatchObject({ replicationMax: 2, copies: 2 })

    // a new CID pinned on one node only
    expect(await orch.pinOnNode('w', n1, { cid: CIDS[1], name: 'b.bin' })).toMatchObject({ replicationMin: 1, replicationMax: 1 })
    await raw[1].waitFor(m => m.type === 'pin_content' && m.cid === CIDS[1])
    expect(raw[0].of('pin_content').some(m => m.cid === CIDS[1])).toBe(false)

    // unpin from node 0: max shrinks back to 1, node 2 keeps its copy, nobody else is asked
    await orch.unpinOnNode('w', n0, CIDS[0])
    await raw[0].waitFor(m => m.type === 'unpin_content' && m.cid === CIDS[0])
    expect(await orch.pinStatus('w', CIDS[0])).toMatchObject({ replicationMax: 1, copies: 1 })
    raw[0].send({ type: 'content_unpinned', workspace_id: 'w', cid: CIDS[0] })
    await expect.poll(async () => (await orch.pinStatus('w', CIDS[0])).allocations.map(a => a.nodeId)).toEqual([n2])
    await drained(raw[1])
    expect(raw[1].of('pin_content').some(m => m.cid === CIDS[0])).toBe(false)

    // unpinning the last copy from its node moves it (replicationMin 1 must hold) to another node, not back to it
    await orch.unpinOnNode('w', n2, CIDS[0])
    await raw[2].waitFor(m => m.type === 'unpin_content' && m.cid === CIDS[0])
    await raw[0].waitFor(m => m.type === 'pin_content' && m.cid === CIDS[0], 5000, raw[0].messages.findIndex(m => m.type === 'unpin_content'))
    expect((await orch.pinStatus('w', CIDS[0])).allocations.find(a => a.nodeId === n2)?.state).toBe('unpinning')

    // errors
    await expect(orch.unpinOnNode('w', n1, CIDS[0])).rejects.toThrow(expect.objectContaining({ code: 'ERR_RECORD_NOT_FOUND' }))
    await expect(orch.unpinOnNode('w', n1, CIDS[2])).rejects.toThrow(expect.objectContaining({ code: 'ERR_RECORD_NOT_FOUND' }))
    await expect(orch.pinOnNode('w', 'node-nope', { cid: CIDS[2] })).rejects.toThrow(expect.objectContaining({ code: 'ERR_RECORD_NOT_FOUND' }))
    await expect(orch.pinOnNode('w', n1, { cid: 'nope' })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_CID' }))
    const outsider = await orch.createNode({ name: 'outsider' })
    await expect(orch.pinOnNode('w', outsider.node.id, { cid: CIDS[2] })).rejects.toThrow(expect.objectContaining({ code: 'ERR_RECORD_NOT_FOUND' }))
    await orch.pin('w', { cid: CIDS[2], replicationMin: 1, replicationMax: -1 })
    await expect.poll(async () => (await orch.pinStatus('w', CIDS[2])).allocations.length).toBe(3)
    await expect(orch.unpinOnNode('w', n1, CIDS[2])).rejects.toThrow(expect.objectContaining({ code: 'ERR_CONFLICT' }))
  })

  it('queues a manual pin for an offline node and sends it when the node is back', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const c = await orch.createNode({ name: 'n' })
    await orch.addMember('w', c.node.id)
    const status = await orch.pinOnNode('w', c.node.id, { cid: CIDS[0], replicationMin: 1 })
    expect(status.allocations).toMatchObject([{ nodeId: c.node.id, state: 'queued' }])
    const a = connect()
    await a.join(c.token, PEER(0), 100)
    await a.waitFor(m => m.type === 'pin_content' && m.cid === CIDS[0])
    a.send({ type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 3 })
    await expect.poll(async () => (await orch.pinStatus('w', CIDS[0])).copies).toBe(1)
    // the only member: no other node could keep replicationMin, so unpinning it there is refused
    await expect(orch.unpinOnNode('w', c.node.id, CIDS[0])).rejects.toThrow(expect.objectContaining({ code: 'ERR_CONFLICT' }))
    expect((await orch.pinStatus('w', CIDS[0])).allocations).toMatchObject([{ state: 'pinned' }])
  })

  it('stores the drive free space of storage_report (null when a node does not send it)', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const c = await orch.createNode({ name: 'n' })
    await orch.addMember('w', c.node.id)
    const a = connect()
    await a.join(c.token, PEER(0), 100)
    await expect.poll(async () => (await orch.getNode(c.node.id)).storage).toMatchObject({ free: 100, driveFree: null })
    a.send({ type: 'storage_report', used: 10, quota: 100, free: 90, drive_free: 123_456_789, workspaces: [] })
    await expect.poll(async () => (await orch.getNode(c.node.id)).storage).toMatchObject({ used: 10, free: 90, driveFree: 123_456_789 })
    expect((await orch.workspaceStatus('w')).nodes[0].storage?.driveFree).toBe(123_456_789)
  })

  it('coalesces bootstrap updates and adds extra bootstrap peers (only valid /p2p/ multiaddrs)', async () => {
    await orch.stop()
    const gatewayAddr = `/ip4/127.0.0.1/tcp/4999/p2p/${PEER(2)}`
    // manual time: the coalescing window closes when the test says so, however long a loaded machine takes
    // between the two nodes' messages (with real time, 100 ms between them gave two updates)
    const time = createManualTime(Date.now())
    orch = createOrchestrator({
      databasePath: ':memory:',
      port: 0,
      clock: time,
      scheduler: time,
      extraBootstrapPeers: (ws) => ws === 'w' ? [gatewayAddr, 'garbage', '/ip4/127.0.0.1/tcp/1'] : []
    })
    ;({ url } = await orch.start())
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const creds = await Promise.all([0, 1, 2].map(async i => { const c = await orch.createNode({ name: `n${i}` }); await orch.addMember('w', c.node.id); return c }))
    const a = connect()
    await a.join(creds[0].token, PEER(0), 100)
    expect(a.of('workspace_joined')[0].bootstrap_peers).toEqual([gatewayAddr])
    await expect.poll(async () => (await orch.workspaceStatus('w')).nodes.filter(n => n.peerId != null).length).toBe(1)
    // node 0's own window: nobody else to tell
    await a.barrier()
    time.advance(BOOTSTRAP_COALESCE_MS)

    // two nodes become ready within one window: node 0 hears of both in one bootstrap_update
    const b = connect()
    const c = connect()
    await Promise.all([b.hello(creds[1].token), c.hello(creds[2].token)])
    await Promise.all([b.waitFor(m => m.type === 'workspace_joined'), c.waitFor(m => m.type === 'workspace_joined')])
    expect(b.of('workspace_joined')[0].bootstrap_peers[0]).toBe(gatewayAddr)
    b.ready('w', PEER(1))
    c.ready('w', '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo')
    await b.barrier()
    await c.barrier()
    await a.barrier()
    expect(a.of('bootstrap_update')).toHaveLength(0)
    time.advance(BOOTSTRAP_COALESCE_MS)
    const update = await a.waitFor(m => m.type === 'bootstrap_update')
    await drained(a)
    expect(a.of('bootstrap_update')).toHaveLength(1)
    expect(update.peers).toHaveLength(2)
    expect(update.peers.join(' ')).toContain(`/p2p/${PEER(1)}`)
    expect(update.peers.join(' ')).toContain('/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo')
    // each of the two hears of the other, not of itself
    const toB = await b.waitFor(m => m.type === 'bootstrap_update')
    expect(toB.peers.join(' ')).not.toContain(`/p2p/${PEER(1)}`)

    // extra peers changed: announce them to the ready members now
    await orch.announceBootstrapPeers('w')
    const announced = await a.waitFor(m => m.type === 'bootstrap_update' && m.peers[0] === gatewayAddr)
    expect(announced.peers).toEqual([gatewayAddr])
  })

  it('gives the swarm key in-process only (swarmKeyFor), also with a :memory: database', async () => {
    await orch.stop()
    orch = createOrchestrator({ databasePath: ':memory:', port: 0 })
    ;({ url, adminUrl } = await orch.start())
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const c = await orch.createNode({ name: 'n' })
    await orch.addMember('w', c.node.id)
    const a = connect()
    await a.join(c.token, PEER(0), 100)
    expect(await orch.swarmKeyFor('w')).toBe(a.of('workspace_joined')[0].ipfs_swarm_key)
    await expect(orch.swarmKeyFor('nope')).rejects.toThrow(expect.objectContaining({ code: 'ERR_RECORD_NOT_FOUND' }))
    await orch.rotateKey('w')
    expect(await orch.swarmKeyFor('w')).toBe((await a.waitFor(m => m.type === 'workspace_joined' && m.key_version === 2)).ipfs_swarm_key)
    const res = await fetch(`${adminUrl}/workspaces/w`, { headers: { authorization: `Bearer ${orch.adminToken}` } })
    expect(await res.text()).not.toContain(await orch.swarmKeyFor('w'))
  })

  it('serves plugin routes on its own port beside the admin API, which keeps its bearer check', async () => {
    await orch.stop()
    const seen: unknown[] = []
    orch = createOrchestrator({
      databasePath: ':memory:',
      port: 0,
      plugins: [(app, o) => {
        seen.push(o)
        app.get('/hello', async () => ({ hello: 'world' }))
      }]
    })
    ;({ url, adminUrl } = await orch.start())
    expect(seen).toEqual([orch])
    const hello = await fetch(`${adminUrl}/hello`)
    expect(hello.status).toBe(200)
    expect(await hello.json()).toEqual({ hello: 'world' })
    expect((await fetch(`${adminUrl}/workspaces`)).status).toBe(401)
    expect((await fetch(`${adminUrl}/workspaces`, { headers: { authorization: `Bearer ${orch.adminToken}` } })).status).toBe(200)
  })

  it('pin() calls made together land together; a bad one fails alone with its typed error', async () => {
    await orch.createWorkspace({ id: 'w', name: 'W' })
    await orch.createWorkspace({ id: 'gone', name: 'Gone' })
    const c = await orch.createNode({ name: 'n' })
    await orch.addMember('w', c.node.id)
    const a = connect()
    await a.join(c.token, PEER(0), 1e9)
    await a.barrier()
    // on PostgreSQL the calls of one tick are written in one transaction: a workspace whose row went
    // away under this instance (it still knows it) makes that transaction fail, and each call runs alone
    if (engine === 'postgres' && 'database' in dbOptions) await sql(dbOptions.database, "DELETE FROM workspaces WHERE id = 'gone'")
    const results = await Promise.allSettled([
      orch.pin('w', { cid: CIDS[0], replicationMin: 1, size: 10 }),
      orch.pin('w', { cid: CIDS[1], replicationMin: 0 }),
      orch.pin('w', { cid: 'not a cid' }),
      orch.pin('nope', { cid: CIDS[2] }),
      ...(engine === 'postgres' ? [orch.pin('gone', { cid: CIDS[2] })] : []),
      orch.pin('w', { cid: CIDS[2], replicationMin: 1, name: 'third' })
    ])
    const errorOf = (r: PromiseSettledResult<unknown>): string | undefined => r.status === 'rejected' ? (r.reason as { code?: string }).code : undefined
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: { cid: CIDS[0], status: 'pinning' } })
    expect(errorOf(results[1])).toBe('ERR_INVALID_ARGUMENT')
    expect(errorOf(results[2])).toBe('ERR_INVALID_CID')
    expect(errorOf(results[3])).toBe('ERR_RECORD_NOT_FOUND')
    if (engine === 'postgres') expect(errorOf(results[4])).toBe('ERR_RECORD_NOT_FOUND')
    expect(results.at(-1)).toMatchObject({ status: 'fulfilled', value: { cid: CIDS[2], name: 'third', status: 'pinning' } })
    expect((await orch.pinStatus('w', CIDS[0])).allocations.map(x => x.nodeId)).toEqual([c.node.id])
    expect((await orch.pinStatus('w', CIDS[2])).name).toBe('third')
    await expect(orch.pinStatus('w', CIDS[1])).rejects.toMatchObject({ code: 'ERR_RECORD_NOT_FOUND' })
  })
})
