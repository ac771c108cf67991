/**
 * The fixture of the dashboard browser specs: an orchestrator (SQLite in a
 * temp folder), member storage nodes connected with the orchestrator client,
 * the workspace gateway, the dashboard server and a Chromium page, all on
 * 127.0.0.1; ready once every member is online and has reported its storage.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { createOrchestratorClient } from '../../src/client/index.js'
import type { OrchestratorClient } from '../../src/client/index.js'
import { createDashboardServer, createWorkspaceGateway } from '../../src/dashboard/index.js'
import type { DashboardServer, WorkspaceGateway } from '../../src/dashboard/index.js'
import { createStorageNode } from '../../src/node/index.js'
import type { StorageNode } from '../../src/node/index.js'
import { createOrchestrator } from '../../src/orchestrator/index.js'
import type { Orchestrator } from '../../src/orchestrator/index.js'
import { launchChromium } from './browser.js'
import { logCleanupError } from './cleanup.js'

export const MiB = 1024 * 1024
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

export interface DashboardWorldInit {
  /** Temp folder prefix. */
  name: string
  /** The workspace id, and its display name. */
  workspace: string
  workspaceName: string
  /** Quota of each member node. */
  nodeQuotaBytes: number
  /** @default ['laptop', 'server'] */
  members?: string[]
  /** @default 64 MiB */
  gatewayQuotaBytes?: number
}

export interface DashboardWorld {
  /** The temp folder (members under `<dir>/<name>`, the gateway under `<dir>/gateway`); scratch files may go there too. */
  dir: string
  orch: Orchestrator
  /** The members' storage nodes and clients, in `members` order. */
  nodes: StorageNode[]
  clients: OrchestratorClient[]
  gateway: WorkspaceGateway
  dashboard: DashboardServer
  browser: Browser
  page: Page
  /** Opens the dashboard and logs in with the admin token. */
  login: () => Promise<void>
  close: () => Promise<void>
}

/** Polls `check` (the page and the orchestrator have no event for these states). */
export async function until (check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > end) throw new Error('timed out waiting')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

export async function startDashboardWorld (init: DashboardWorldInit): Promise<DashboardWorld> {
  const dir = await mkdtemp(join(tmpdir(), `${init.name}-`))
  const world: Partial<DashboardWorld> & { dir: string, nodes: StorageNode[], clients: OrchestratorClient[] } = { dir, nodes: [], clients: [] }
  const close = async (): Promise<void> => {
    await world.browser?.close().catch(logCleanupError)
    await world.dashboard?.stop()
    await Promise.all(world.clients.map(async c => { await c.stop() }))
    await world.gateway?.stop()
    await Promise.all(world.nodes.map(async n => { await n.stop() }))
    await world.orch?.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const orch = world.orch = createOrchestrator({ dataDir: dir, port: 0 })
    const { url } = await orch.start()
    await orch.createWorkspace({ id: init.workspace, name: init.workspaceName })
    for (const name of init.members ?? ['laptop', 'server']) {
      const { node, token } = await orch.createNode({ name })
      await orch.addMember(init.workspace, node.id)
      const storageNode = await createStorageNode({ storagePath: join(dir, name), quotaBytes: init.nodeQuotaBytes, listenAddresses: LOOPBACK })
      world.nodes.push(storageNode)
      const client = createOrchestratorClient({ url, token, storageNode, nodeName: name })
      world.clients.push(client)
      await client.start()
      await client.waitConnected({ signal: AbortSignal.timeout(10_000) })
    }
    world.gateway = createWorkspaceGateway({
      storageNode: await createStorageNode({ storagePath: join(dir, 'gateway'), quotaBytes: init.gatewayQuotaBytes ?? 64 * MiB, listenAddresses: LOOPBACK }),
      orchestrator: orch // keys from orch.swarmKeyFor (in memory)
    })
    const dashboard = world.dashboard = createDashboardServer({ orchestrator: orch, gateway: world.gateway, port: 0 })
    await dashboard.start()
    world.browser = await launchChromium()
    const page = world.page = await world.browser.newPage({ acceptDownloads: true, viewport: { width: 1200, height: 900 } })
    const members = world.nodes.length
    await until(async () => {
      const s = await orch.workspaceStatus(init.workspace)
      return s.nodesOnline === members && s.nodes.every(n => n.storage != null && n.peerId != null)
    }, 20_000)
    return {
      ...(world as DashboardWorld),
      login: async () => {
        await page.goto(dashboard.url)
        await page.locator('#login-token').fill(orch.adminToken)
        await page.locator('#login-form button[type=submit]').click()
      },
      close
    }
  } catch (err) {
    await close()
    throw err
  }
}
