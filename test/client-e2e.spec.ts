/**
 * End to end: a real orchestrator (SQLite file, 127.0.0.1) and four real
 * storage nodes driven by orchestrator clients.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it, expect } from 'vitest'
import { createOrchestratorClient } from '../src/client/index.js'
import type { ClientEvent, OrchestratorClient } from '../src/client/index.js'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode } from '../src/node/index.js'
import { createOrchestrator } from '../src/orchestrator/index.js'
import type { Orchestrator } from '../src/orchestrator/index.js'
import { logCleanupError } from './helpers/cleanup.js'

const MiB = 2 ** 20
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

interface Machine {
  name: string
  dir: string
  node: StorageNode
  client: OrchestratorClient
  nodeId: string
  token: string
  events: ClientEvent[]
}

describe('orchestrator + clients + storage nodes', () => {
  let root: string
  let dbPath: string
  let orch: Orchestrator
  let url: string
  let port: number
  const machines: Record<string, Machine> = {}

  async function machine (name: string, quota: number, workspace: string, existing?: { nodeId: string, token: string }): Promise<Machine> {
    const dir = join(root, name)
    const node = await createStorageNode({ storagePath: dir, quotaBytes: quota, listenAddresses: LOOPBACK, blockTimeout: 3000, blockRetries: 2, dialTimeout: 2000, reserveBytes: 0 })
    let creds = existing
    if (creds == null) {
      const created = await orch.createNode({ name })
      await orch.addMember(workspace, created.node.id)
      creds = { nodeId: created.node.id, token: created.token }
    }
    const events: ClientEvent[] = []
    const client = createOrchestratorClient({ url, token: creds.token, storageNode: node, nodeName: name, reconnectInitialMs: 100, reconnectMaxMs: 500, storageReportIntervalMs: 0 })
    client.onEvent(e => events.push(e))
    await client.start()
    await client.waitConnected()
    const m = { name, dir, node, client, nodeId: creds.nodeId, token: creds.token, events }
    machines[name] = m
    return m
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'orch-e2e-'))
    dbPath = join(root, 'orchestrator.db')
    orch = createOrchestrator({ databasePath: dbPath, port: 0, repinGraceMs: 1000 })
    ;({ url } = await orch.start())
    port = Number(new URL(url).port)
    await orch.createWorkspace({ id: 'alpha', name: 'Alpha' })
    await orch.createWorkspace({ id: 'beta', name: 'Beta' })
    await Promise.all([
      machine('a', 64 * MiB, 'alpha'),
      machine('b', 256 * MiB, 'alpha'),
      machine('c', 192 * MiB, 'alpha'),
      machine('d', 256 * MiB, 'beta')
    ])
  })

  afterAll(async () => {
    for (const m of Object.values(machines)) {
      await m.client.stop().catch(logCleanupError)
      await m.node.stop().catch(logCleanupError)
    }
    await orch?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it('joins the workspace members and bootstraps them to each other', async () => {
    await expect.poll(async () => (await orch.workspaceStatus('alpha')).nodes.filter(n => n.peerId != null).length, { timeout: 20_000 }).toBe(3)
    for (const name of ['a', 'b', 'c']) {
      await expect.poll(() => machines[name].node.workspace('alpha').peers().length, { timeout: 20_000 }).toBeGreaterThanOrEqual(1)
    }
    const status = await orch.workspaceStatus('alpha')
    expect(status.nodesOnline).toBe(3)
    await expect.poll(async () => (await orch.workspaceStatus('alpha')).storage.quota, { timeout: 10_000 }).toBe((64 + 256 + 192) * MiB)
    expect(machines.a.node.workspace('alpha').keyFingerprint).toBe((await orch.getWorkspace('alpha')).keyFingerprint)
  })

  let cid: string
  let stoppedB: { nodeId: string, token: string }
  it('places a replication-2 pin on the two nodes with the most free space', async () => {
    const data = randomBytes(600 * 1024)
    const added = await machines.a.node.workspace('alpha').add(data, { pin: false })
    cid = added.cid.toString()
    await orch.pin('alpha', { cid, replicationMin: 2, replicationMax: 2, name: 'data.bin' })
    await expect.poll(async () => (await orch.pinStatus('alpha', cid)).copies, { timeout: 30_000 }).toBe(2)
    const holders = (await orch.pinStatus('alpha', cid)).allocations.filter(x => x.state === 'pinned').map(x => x.nodeId).sort()
    expect(holders).toEqual([machines.b.nodeId, machines.c.nodeId].sort())
    expect(await machines.b.node.workspace('alpha').isPinned(cid)).toBe(true)
    expect(await machines.c.node.workspace('alpha').isPinned(cid)).toBe(true)
    expect((await orch.pinStatus('alpha', cid)).size).toBe(600 * 1024)
  })

  it('re-pins on the third node when one stays offline past the grace period', async () => {
    const b = machines.b
    stoppedB = { nodeId: b.nodeId, token: b.token }
    await b.client.stop()
    await b.node.stop()
    delete machines.b
    await expect.poll(async () => (await orch.pinStatus('alpha', cid)).allocations.find(x => x.nodeId === machines.a.nodeId)?.state, { timeout: 30_000 }).toBe('pinned')
    expect(await machines.a.node.workspace('alpha').isPinned(cid)).toBe(true)
  })

  it('keeps its state across an orchestrator restart on the same SQLite file', async () => {
    const adminToken = orch.adminToken
    await orch.stop()
    orch = createOrchestrator({ databasePath: dbPath, port, adminToken, repinGraceMs: 1000 })
    await orch.start()
    expect((await orch.listWorkspaces()).map(w => w.id).sort()).toEqual(['alpha', 'beta'])
    await expect.poll(async () => (await orch.workspaceStatus('alpha')).nodesOnline, { timeout: 20_000 }).toBe(2)
    const pin = await orch.pinStatus('alpha', cid)
    expect(pin).toMatchObject({ name: 'data.bin', replicationMin: 2 })
    // a and c still hold it; b (offline past its grace period) keeps its record until it returns
    await new Promise(resolve => setTimeout(resolve, 300))
    const online = new Set([machines.a.nodeId, machines.c.nodeId])
    const allocations = (await orch.pinStatus('alpha', cid)).allocations
    expect(allocations.filter(x => online.has(x.nodeId)).map(x => x.state)).toEqual(['pinned', 'pinned'])
    expect(allocations.some(x => x.state === 'unpinning' || x.state === 'pinning')).toBe(false)
    expect(machines.a.events.filter(e => e.type === 'connected').length).toBeGreaterThanOrEqual(2)
  })

  it('trims the surplus copy when the offline node comes back with the content', async () => {
    const b = await machine('b', 256 * MiB, 'alpha', stoppedB)
    await expect.poll(() => b.events.some(e => e.type === 'joined'), { timeout: 20_000 }).toBe(true)
    expect(await b.node.workspace('alpha').isPinned(cid)).toBe(true)
    // three copies for replicationMax 2: the node with the least free space (a) lets go
    await expect.poll(async () => (await orch.pinStatus('alpha', cid)).allocations.map(x => x.nodeId).sort(), { timeout: 20_000 })
      .toEqual([machines.b.nodeId, machines.c.nodeId].sort())
    await expect.poll(async () => await machines.a.node.workspace('alpha').isPinned(cid), { timeout: 10_000 }).toBe(false)
  })

  it('rotates the key on online members', async () => {
    const rotation = await orch.rotateKey('alpha')
    for (const name of ['a', 'b', 'c']) {
      await expect.poll(() => machines[name].node.workspace('alpha').keyFingerprint, { timeout: 20_000 }).toBe(rotation.keyFingerprint)
    }
    await expect.poll(() => machines.a.node.workspace('alpha').peers().length, { timeout: 20_000 }).toBeGreaterThanOrEqual(1)
  })

  it('never gives a node of another workspace the key or the content', async () => {
    const d = machines.d
    expect(d.node.workspaces().map(w => w.workspaceId)).toEqual(['beta'])
    expect(new Set(d.events.filter(e => e.type === 'joined').map(e => (e as { workspaceId: string }).workspaceId))).toEqual(new Set(['beta']))
    const alphaFingerprints = new Set([(await orch.getWorkspace('alpha')).keyFingerprint, machines.a.node.workspace('alpha').keyFingerprint])
    expect(alphaFingerprints.has(d.node.workspace('beta').keyFingerprint)).toBe(false)
    const stat = await d.node.workspace('beta').stat(cid, { offline: true, timeout: 500 }).catch(() => undefined)
    expect(stat?.local ?? false).toBe(false)
    expect(d.events.some(e => e.type === 'pinned')).toBe(false)
  })
})
