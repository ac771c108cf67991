/**
 * The orchestrator with its own gateway and dashboard (`createOrchestratorServer({
 * dashboard: true, gateway })`), a ':memory:' database, and a real storage
 * node connected through the orchestrator client, all on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createOrchestratorClient } from '../src/client/index.js'
import type { OrchestratorClient } from '../src/client/index.js'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode } from '../src/node/index.js'
import { createOrchestrator } from '../src/orchestrator/index.js'
import type { OrchestratorAddresses } from '../src/orchestrator/index.js'
import { createOrchestratorServer } from '../src/server/index.js'
import type { OrchestratorServer } from '../src/server/index.js'
import { PROTOCOL_VERSION } from '../src/protocol/index.js'

const MiB = 2 ** 20
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const WS = 'team'

describe('orchestrator with its gateway and dashboard', () => {
  let root: string
  let orch: OrchestratorServer
  let addresses: OrchestratorAddresses
  let node: StorageNode | undefined
  let client: OrchestratorClient | undefined

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'orch-gw-'))
    orch = createOrchestratorServer({
      databasePath: ':memory:',
      port: 0,
      dashboard: true,
      gateway: { storagePath: join(root, 'gateway'), quotaBytes: 64 * MiB, replication: 1 }
    })
    addresses = await orch.start()
    await orch.createWorkspace({ id: WS, name: 'Team' })
  }, 30_000)

  afterAll(async () => {
    await client?.stop()
    await node?.stop()
    await orch?.stop()
    await rm(root, { recursive: true, force: true })
  }, 30_000)

  it('gives members the gateway as a bootstrap peer, and a joining node connects to it', async () => {
    // the gateway joins new workspaces by itself (the key comes from swarmKeyFor, in memory)
    await expect.poll(() => orch.gateway?.bootstrapAddresses(WS).length ?? 0, { timeout: 15_000 }).toBeGreaterThan(0)
    const gateway = orch.gateway!
    const gatewayAddrs = gateway.bootstrapAddresses(WS)
    const gatewayPeer = gateway.workspaces().find(w => w.workspaceId === WS)!.peerId
    expect(gatewayAddrs.every(a => a.startsWith('/ip4/127.0.0.1/') && a.endsWith(`/p2p/${gatewayPeer}`))).toBe(true)

    // what a member receives: the gateway's addresses in workspace_joined
    const probe = await orch.createNode({ name: 'probe' })
    await orch.addMember(WS, probe.node.id)
    const raw = new WebSocket(addresses.url)
    const messages: any[] = []
    raw.on('message', data => { messages.push(JSON.parse(data.toString())) })
    await new Promise((resolve, reject) => { raw.once('open', resolve); raw.once('error', reject) })
    raw.send(JSON.stringify({ type: 'hello', protocol_version: PROTOCOL_VERSION, token: probe.token }))
    await expect.poll(() => messages.find(m => m.type === 'workspace_joined')).toBeTruthy()
    const joined = messages.find(m => m.type === 'workspace_joined')
    expect(joined.bootstrap_peers).toEqual(expect.arrayContaining(gatewayAddrs))
    raw.terminate()
    await orch.removeMember(WS, probe.node.id)

    // a real node joins and is connected to the gateway
    const { node: created, token } = await orch.createNode({ name: 'laptop' })
    await orch.addMember(WS, created.id)
    node = await createStorageNode({ storagePath: join(root, 'laptop'), quotaBytes: 64 * MiB, listenAddresses: LOOPBACK })
    client = createOrchestratorClient({ url: addresses.url, token, storageNode: node, storageReportIntervalMs: 0 })
    await client.start()
    await client.waitConnected({ signal: AbortSignal.timeout(10_000) })
    await expect.poll(() => {
      try { return node!.workspace(WS).peers().some(p => p.peerId === gatewayPeer) } catch { return false }
    }, { timeout: 15_000 }).toBe(true)
    // and the node reported its drive's free space
    await expect.poll(async () => (await orch.getNode(created.id)).storage?.driveFree ?? 0, { timeout: 10_000 }).toBeGreaterThan(0)
  }, 40_000)

  it('serves the dashboard on its own port: page, login, upload through the gateway to the member', async () => {
    expect(addresses.dashboardUrl).toBe(`${addresses.adminUrl}/dashboard/`)
    const page = await fetch(addresses.dashboardUrl!)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await page.text()).toContain('/dashboard/ui/app.js')
    const root = await fetch(`${addresses.adminUrl}/`, { redirect: 'manual' })
    expect(root.headers.get('location')).toBe('/dashboard/')
    // the admin API keeps its own bearer check; the dashboard has its login
    expect((await fetch(`${addresses.adminUrl}/workspaces`)).status).toBe(401)
    expect((await fetch(`${addresses.adminUrl}/dashboard/api/session`)).status).toBe(401)
    const login = await fetch(`${addresses.adminUrl}/dashboard/api/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: orch.adminToken })
    })
    expect(login.status).toBe(200)
    const cookie = String(login.headers.get('set-cookie')).split(';')[0]
    const status = await (await fetch(`${addresses.adminUrl}/dashboard/api/workspaces/${WS}`, { headers: { cookie } })).json()
    expect(status.gateway).toBe(true)
    expect(status.nodes.map((n: any) => n.name)).toEqual(['laptop'])

    const content = randomBytes(300 * 1024)
    const up = await fetch(`${addresses.adminUrl}/dashboard/api/workspaces/${WS}/upload?name=a.bin&replication=1`, {
      method: 'POST', headers: { cookie, 'content-type': 'application/octet-stream' }, body: content
    })
    expect(up.status).toBe(201)
    const { cid } = await up.json()
    await expect.poll(async () => (await orch.pinStatus(WS, cid)).copies, { timeout: 20_000 }).toBe(1)
    const down = await fetch(`${addresses.adminUrl}/dashboard/api/workspaces/${WS}/content/${cid as string}`, { headers: { cookie } })
    expect(Buffer.compare(Buffer.from(await down.arrayBuffer()), content)).toBe(0)
  }, 40_000)

  it('re-keys the gateway with the workspace, and the member finds it again', async () => {
    const { keyFingerprint } = await orch.rotateKey(WS)
    const gateway = orch.gateway!
    await expect.poll(() => gateway.workspaces().find(w => w.workspaceId === WS)?.keyFingerprint, { timeout: 15_000 }).toBe(keyFingerprint)
    await expect.poll(() => node!.workspace(WS).keyFingerprint, { timeout: 15_000 }).toBe(keyFingerprint)
    const gatewayPeer = gateway.workspaces().find(w => w.workspaceId === WS)!.peerId
    await expect.poll(() => node!.workspace(WS).peers().some(p => p.peerId === gatewayPeer), { timeout: 15_000 }).toBe(true)
  }, 40_000)
})

describe('orchestrator gateway on restart', () => {
  it('joins the existing workspaces before start() resolves, with a gateway built by a function', async () => {
    const root = await mkdtemp(join(tmpdir(), 'orch-gw-restart-'))
    const databasePath = join(root, 'orchestrator.db')
    try {
      const first = createOrchestrator({ databasePath, port: 0 })
      await first.start()
      await first.createWorkspace({ id: 'one', name: 'One' })
      await first.createWorkspace({ id: 'two', name: 'Two' })
      await first.stop()

      const { createWorkspaceGateway } = await import('../src/dashboard/index.js')
      const second = createOrchestratorServer({
        databasePath,
        port: 0,
        gateway: async (o) => createWorkspaceGateway({
          storageNode: await createStorageNode({ storagePath: join(root, 'gateway'), quotaBytes: 16 * MiB, listenAddresses: LOOPBACK }),
          orchestrator: o
        })
      })
      let gateway
      try {
        await second.start()
        gateway = second.gateway!
        expect(gateway.workspaces().map(w => w.workspaceId).sort()).toEqual(['one', 'two'])
        expect(gateway.bootstrapAddresses('one').length).toBeGreaterThan(0)
      } finally {
        await second.stop()
      }
      // stop() stopped the gateway (and its storage node)
      expect(second.gateway).toBeUndefined()
      await expect(gateway.join('one')).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  }, 30_000)
})
