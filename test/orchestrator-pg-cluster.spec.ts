/**
 * Three real orchestrator instances on one PostgreSQL (the first in a child
 * process, so that it can be killed with -9), six real storage nodes in two
 * workspaces, each node given the three URLs (starting at a different one).
 * Pins with replication 2 are placed once; the admin API answers the same on
 * every instance; kill -9 of the instance holding the placement lease: another
 * takes over, the nodes that were on it reconnect to the next URL and keep
 * their pins, and a node lost after that is still re-pinned.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { createOrchestratorClient } from '../src/client/index.js'
import type { OrchestratorClient } from '../src/client/index.js'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode } from '../src/node/index.js'
import { createOrchestrator } from '../src/orchestrator/index.js'
import type { Orchestrator, OrchestratorAddresses } from '../src/orchestrator/index.js'
import { logCleanupError } from './helpers/cleanup.js'
import { usePostgres } from './helpers/postgres.js'

const postgres = usePostgres()
const MiB = 2 ** 20
const GRACE = 1500
const ADMIN = 'cluster-admin-token-0123456789'

interface Machine { name: string, workspace: string, nodeId: string, node: StorageNode, client: OrchestratorClient }

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

  it('places once, answers the same everywhere, fails over on kill -9, keeps and re-pins', async () => {
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

    // workspaces and nodes made on b; each node knows the three URLs, starting at a, b or c
    await b.createWorkspace({ id: 'alpha', name: 'Alpha' })
    await b.createWorkspace({ id: 'beta', name: 'Beta' })
    const machines: Machine[] = []
    for (const [i, name] of ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'].entries()) {
      const workspace = i < 3 ? 'alpha' : 'beta'
      const created = await b.createNode({ name })
      await b.addMember(workspace, created.node.id)
      const node = await createStorageNode({ storagePath: join(root, name), quotaBytes: (64 + 16 * i) * MiB, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], blockTimeout: 3000, blockRetries: 2, dialTimeout: 2000, reserveBytes: 0 })
      const first = i % 3
      const client = createOrchestratorClient({ url: [...urls.slice(first), ...urls.slice(0, first)], token: created.token, storageNode: node, nodeName: name, reconnectInitialMs: 100, reconnectMaxMs: 500, storageReportIntervalMs: 0 })
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
    // the admin API answers the same on every instance
    const statusOver = async (adminUrl: string, ws: string): Promise<unknown> => {
      const res = await fetch(`${adminUrl}/workspaces/${ws}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })
      expect(res.status).toBe(200)
      const body = await res.json() as { nodesOnline: number, pins: unknown[], workspace: unknown }
      return { nodesOnline: body.nodesOnline, pins: body.pins, workspace: body.workspace }
    }
    for (const ws of ['alpha', 'beta']) {
      const seen = await Promise.all(adminUrls.map(async u => await statusOver(u, ws)))
      expect(seen[1]).toEqual(seen[0])
      expect(seen[2]).toEqual(seen[0])
    }

    // kill -9 the leader: b or c takes the lease
    const exited = once(a.child, 'exit')
    a.child.kill('SIGKILL')
    await exited
    await expect.poll(() => followers.filter(o => o.isLeader).length, { timeout: 15_000 }).toBe(1)
    // GET /health says who leads
    const health = await Promise.all(adminUrls.slice(1).map(async u => await (await fetch(`${u}/health`)).json()))
    expect(health).toEqual(followers.map(o => ({ ok: true, leader: o.isLeader })))

    // n1 and n4 were on a: they reconnect to their next URL (b) and keep their pins
    const moved = [machines[0], machines[3]]
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
