/**
 * Three real orchestrator instances on one PostgreSQL (the first in a child
 * process, so that it can be killed with -9), six real storage nodes in two
 * workspaces, each node given the three URLs (starting at a different one).
 * Pins with replication 2 are placed once; every GET of the admin API answers
 * the same on every instance; a dashboard's live stream on one instance shows
 * the changes made on the others; kill -9 of the instance holding the
 * placement lease: another takes over, the nodes that were on it reconnect to
 * the next URL and keep their pins, the one that knew only that instance shows
 * offline on the others (live stream included) and its copies move, and a node
 * lost after that is still re-pinned.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as delay } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { createOrchestratorClient } from '../src/client/index.js'
import { createDashboardServer } from '../src/dashboard/index.js'
import type { OrchestratorClient } from '../src/client/index.js'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode } from '../src/node/index.js'
import { createOrchestrator } from '../src/orchestrator/index.js'
import type { Orchestrator, OrchestratorAddresses, OrchestratorEvent } from '../src/orchestrator/index.js'
import { logCleanupError } from './helpers/cleanup.js'
import { usePostgres } from './helpers/postgres.js'

const postgres = usePostgres()
const MiB = 2 ** 20
const GRACE = 1500
const ADMIN = 'cluster-admin-token-0123456789'

interface Machine { name: string, workspace: string, nodeId: string, node: StorageNode, client: OrchestratorClient }

/** The dashboard's server-sent events for one workspace, as a browser gets them. */
interface LiveStream { events: OrchestratorEvent[], close: () => void }

async function liveStream (dashboardUrl: string, cookie: string, workspace: string): Promise<LiveStream> {
  const events: OrchestratorEvent[] = []
  let buffered = ''
  return await new Promise((resolve, reject) => {
    const req = request(new URL(`api/events?workspace=${workspace}`, dashboardUrl), { headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`event stream answered ${res.statusCode}`)); return }
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffered += chunk
        const frames = buffered.split('\n\n')
        buffered = frames.pop() ?? ''
        for (const frame of frames) if (frame.startsWith('data: ')) events.push(JSON.parse(frame.slice(6)))
      })
      // the headers come once the stream is subscribed
      resolve({ events, close: () => { req.destroy() } })
    })
    req.on('error', (err) => { if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err) })
    req.end()
  })
}

const QUOTAS_MIB = [176, 96, 128, 176, 112, 144]

describe.skipIf(postgres.skip != null)('orchestrator: three instances on PostgreSQL, failover', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterAll(async () => { for (const fn of cleanup.reverse()) await Promise.resolve(fn()).catch(logCleanupError) })

  /** Starts instance `id` in a child process; resolves with its addresses once it leads. */
  async function childInstance (database: string, id: string): Promise<{ child: ChildProcess, addresses: OrchestratorAddresses }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/orchestrator-instance.ts'], {
      cwd: process.cwd(),
      env: { ...process.env, ORCH_DATABASE: database, ORCH_ID: id, ORCH_ADMIN_TOKEN: ADMIN, ORCH_GRACE_MS: String(GRACE) },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    cleanup.push(() => { if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL') })
    let addresses: OrchestratorAddresses | undefined
    const leading = new Promise<void>((resolve) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const event = JSON.parse(line)
        if (event.url != null) addresses = event
        if (event.leader === true) resolve()
      })
    })
    await Promise.race([leading, once(child, 'exit').then(() => { throw new Error(`instance ${id} exited`) })])
    return { child, addresses: addresses! }
  }

  it('places once, answers the same everywhere, streams every instance\'s changes, fails over on kill -9, keeps and re-pins', async () => {
    const database = await postgres.createDatabase()
    const root = await mkdtemp(join(tmpdir(), 'orch-cluster-'))
    cleanup.push(async () => { await rm(root, { recursive: true, force: true }) })

    // a leads (it started first); b and c follow
    const a = await childInstance(database, 'orch-a')
    const followers: Orchestrator[] = []
    const urls = [a.addresses.url]
    const adminUrls = [a.addresses.adminUrl]
    for (const id of ['orch-b', 'orch-c']) {
      const orch = createOrchestrator({ database, instanceId: id, adminToken: ADMIN, repinGraceMs: GRACE, port: 0 })
      cleanup.push(async () => { await orch.stop() })
      const { url, adminUrl } = await orch.start()
      followers.push(orch)
      urls.push(url)
      adminUrls.push(adminUrl)
    }
    const [b, c] = followers
    expect(b.isLeader).toBe(false)
    expect(c.isLeader).toBe(false)

    // workspaces and nodes made on b; each node knows the three URLs, starting at a, b or c,
    // except n4, which knows only a (it goes offline with a); n1 and n4 have the most room in their workspaces
    await b.createWorkspace({ id: 'alpha', name: 'Alpha' })
    await b.createWorkspace({ id: 'beta', name: 'Beta' })

    // b's dashboard, logged in as the admin: one live stream per workspace; c's own listeners too
    const dashboard = createDashboardServer({ orchestrator: b, port: 0, keepAliveMs: 200 })
    const dashboardUrl = await dashboard.start()
    cleanup.push(async () => { await dashboard.stop() })
    const login = await fetch(new URL('api/login', dashboardUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ADMIN }) })
    const cookie = String(login.headers.get('set-cookie')).split(';')[0]
    const live = { alpha: await liveStream(dashboardUrl, cookie, 'alpha'), beta: await liveStream(dashboardUrl, cookie, 'beta') }
    cleanup.push(() => { live.alpha.close(); live.beta.close() })
    const onC: OrchestratorEvent[] = []
    c.onChange(e => { onC.push(e) })

    const machines: Machine[] = []
    for (const [i, name] of ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'].entries()) {
      const workspace = i < 3 ? 'alpha' : 'beta'
      const created = await b.createNode({ name })
      await b.addMember(workspace, created.node.id)
      const node = await createStorageNode({ storagePath: join(root, name), quotaBytes: QUOTAS_MIB[i] * MiB, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], blockTimeout: 3000, blockRetries: 2, dialTimeout: 2000, reserveBytes: 0 })
      const first = i % 3
      const client = createOrchestratorClient({ url: name === 'n4' ? [urls[0]] : [...urls.slice(first), ...urls.slice(0, first)], token: created.token, storageNode: node, nodeName: name, reconnectInitialMs: 100, reconnectMaxMs: 500, storageReportIntervalMs: 0 })
      cleanup.push(async () => { await client.stop(); await node.stop() })
      await client.start()
      machines.push({ name, workspace, nodeId: created.node.id, node, client })
    }
    for (const m of machines) await m.client.waitConnected()
    // every instance sees all six nodes ready, wherever their sessions are
    for (const orch of followers) {
      for (const ws of ['alpha', 'beta']) {
        await expect.poll(async () => (await orch.workspaceStatus(ws)).nodes.filter(n => n.online && n.peerId != null).length, { timeout: 20_000 }).toBe(3)
      }
    }

    // the members found each other across instances (bootstrap peers and updates from the cluster view)
    for (const m of machines) await expect.poll(() => m.node.workspace(m.workspace).peers().length, { timeout: 20_000 }).toBe(2)

    // two blocks per workspace, added on the node held by b, pinned through c: the leader (a) places them
    const cids: Array<{ ws: string, cid: string }> = []
    for (const [ws, holder] of [['alpha', machines[1]], ['beta', machines[4]]] as const) {
      for (let k = 0; k < 2; k++) {
        const added = await holder.node.workspace(ws).add(randomBytes(200 * 1024), { pin: false })
        cids.push({ ws, cid: added.cid.toString() })
      }
    }
    for (const { ws, cid } of cids) await c.pin(ws, { cid, replicationMin: 2, replicationMax: 2 })
    for (const { ws, cid } of cids) {
      await expect.poll(async () => (await b.pinStatus(ws, cid)).copies, { timeout: 30_000 }).toBe(2)
    }
    // placed once: two allocations per pin, both pinned, and the nodes hold them
    for (const { ws, cid } of cids) {
      const status = await c.pinStatus(ws, cid)
      expect(status.allocations).toHaveLength(2)
      for (const alloc of status.allocations) {
        expect(alloc.state).toBe('pinned')
        const m = machines.find(x => x.nodeId === alloc.nodeId)!
        expect(m.workspace).toBe(ws)
        expect(await m.node.workspace(ws).isPinned(cid)).toBe(true)
      }
    }
    // every GET of the admin API answers the same on every instance (status and body), unknown ids included
    const get = async (adminUrl: string, path: string): Promise<{ status: number, body: unknown }> => {
      const res = await fetch(`${adminUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })
      return { status: res.status, body: await res.json() }
    }
    /** The three answers, read again (every 50 ms, 10 s at most) while a write lands between two of them (a node's storage report). */
    const answers = async (path: string): Promise<Array<{ status: number, body: unknown }>> => {
      const deadline = performance.now() + 10_000
      for (;;) {
        const seen = await Promise.all(adminUrls.map(async u => await get(u, path)))
        if (seen.every(x => isDeepStrictEqual(x, seen[0])) || performance.now() > deadline) return seen
        await delay(50)
      }
    }
    // a pin nobody made: the first cid with its last character changed (to 'y' when it already ends with 'x')
    const unknownPin = '/workspaces/alpha/pins/' + cids[0].cid.slice(0, -1) + (cids[0].cid.endsWith('x') ? 'y' : 'x')
    const paths = [
      '/workspaces', '/nodes', '/workspaces/nope', '/nodes/nope', unknownPin,
      ...['alpha', 'beta'].flatMap(ws => [`/workspaces/${ws}`, `/workspaces/${ws}/status`]),
      ...cids.map(({ ws, cid }) => `/workspaces/${ws}/pins/${cid}`),
      ...machines.map(m => `/nodes/${m.nodeId}`)
    ]
    for (const path of paths) {
      const seen = await answers(path)
      expect(seen[0].status, path).toBe(path.includes('nope') || path === unknownPin ? 404 : 200)
      expect(seen[1], path).toEqual(seen[0])
      expect(seen[2], path).toEqual(seen[0])
    }
    // a write through one instance's admin API reads back the same through the others
    const made = await fetch(`${adminUrls[2]}/workspaces`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'gamma', name: 'Gamma' }) })
    expect(made.status).toBe(201)
    const gamma = await answers('/workspaces/gamma')
    expect(gamma[0]).toEqual({ status: 200, body: await made.json() })
    expect(gamma[1]).toEqual(gamma[0])
    expect(gamma[2]).toEqual(gamma[0])

    // b's live stream showed what c (the pins), a (the leader's placement) and the nodes' instances (pinned) did
    for (const { ws, cid } of cids) {
      const events = live[ws as 'alpha' | 'beta'].events
      await expect.poll(() => events.filter(e => e.type === 'allocation' && e.cid === cid && e.state === 'pinned').length, { timeout: 10_000 }).toBe(2)
      expect(events.filter(e => e.type === 'pin:added' && e.cid === cid)).toHaveLength(1)
    }
    // no other workspace's events in a stream, and nothing twice (a relayed event is not relayed back)
    expect(live.alpha.events.filter(e => 'workspaceId' in e && e.workspaceId !== 'alpha')).toEqual([])
    const pinAdded = onC.filter(e => e.type === 'pin:added').map(e => JSON.stringify(e))
    expect(new Set(pinAdded).size).toBe(pinAdded.length)
    expect(pinAdded).toHaveLength(cids.length)

    // n4 (beta) knows only a and holds copies: it goes down with a
    const n4 = machines[3]
    const n4Pins = []
    for (const { ws, cid } of cids.filter(x => x.ws === 'beta')) {
      if ((await b.pinStatus(ws, cid)).allocations.some(x => x.nodeId === n4.nodeId)) n4Pins.push(cid)
    }
    expect(n4Pins.length).toBeGreaterThan(0)

    // kill -9 the leader: b or c takes the lease
    const exited = once(a.child, 'exit')
    a.child.kill('SIGKILL')
    await exited
    await expect.poll(() => followers.filter(o => o.isLeader).length, { timeout: 15_000 }).toBe(1)
    // GET /health says who leads
    const health = await Promise.all(adminUrls.slice(1).map(async u => await (await fetch(`${u}/health`)).json()))
    expect(health).toEqual(followers.map(o => ({ ok: true, leader: o.isLeader })))

    // n4 shows offline on b and c (their REST views and listeners, b's live stream): a could not say it
    for (const orch of followers) await expect.poll(async () => (await orch.getNode(n4.nodeId)).online, { timeout: 15_000 }).toBe(false)
    await expect.poll(() => live.beta.events.filter(e => e.type === 'node:offline' && e.nodeId === n4.nodeId).length, { timeout: 15_000 }).toBe(1)
    await expect.poll(() => onC.filter(e => e.type === 'node:offline' && e.nodeId === n4.nodeId).length, { timeout: 15_000 }).toBe(1)
    // its copies move to the other members of beta after the grace period
    const betaRest = [machines[4].nodeId, machines[5].nodeId].sort()
    for (const cid of n4Pins) {
      await expect.poll(async () => {
        const status = await c.pinStatus('beta', cid)
        return status.allocations.filter(x => x.state === 'pinned' && betaRest.includes(x.nodeId)).map(x => x.nodeId).sort()
      }, { timeout: 30_000 }).toEqual(betaRest)
    }

    // n1 was on a: it reconnects to its next URL (b) and keeps its pins
    const moved = [machines[0]]
    for (const m of moved) {
      await expect.poll(() => m.client.connected && m.client.currentUrl === urls[1], { timeout: 15_000 }).toBe(true)
    }
    await expect.poll(async () => (await b.workspaceStatus('alpha')).nodes.filter(n => n.online && n.peerId != null).length, { timeout: 15_000 }).toBe(3)
    for (const m of moved) {
      for (const { ws, cid } of cids.filter(x => x.ws === m.workspace)) {
        const status = await b.pinStatus(ws, cid)
        const mine = status.allocations.find(x => x.nodeId === m.nodeId)
        if (mine != null) {
          expect(mine.state).toBe('pinned')
          expect(await m.node.workspace(ws).isPinned(cid)).toBe(true)
        }
      }
    }

    // a node lost after the failover: its copies go to the other members of its workspace
    const alphaPins = cids.filter(x => x.ws === 'alpha')
    const holders = new Set<string>()
    for (const { cid } of alphaPins) for (const x of (await b.pinStatus('alpha', cid)).allocations) holders.add(x.nodeId)
    const victim = machines.slice(0, 3).find(m => holders.has(m.nodeId))!
    await victim.client.stop()
    await victim.node.stop()
    const rest = machines.slice(0, 3).filter(m => m !== victim).map(m => m.nodeId).sort()
    for (const { cid } of alphaPins) {
      await expect.poll(async () => {
        const status = await c.pinStatus('alpha', cid)
        return status.allocations.filter(x => x.state === 'pinned' && rest.includes(x.nodeId)).map(x => x.nodeId).sort()
      }, { timeout: 30_000 }).toEqual(rest)
    }
  }, 120_000)
})
