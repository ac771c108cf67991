/**
 * Folders end to end in a real browser (Debian's Chromium through
 * playwright-core): a folder uploaded with `<input webkitdirectory>` keeps
 * its paths, the orchestrator replicates the pinned directory as a whole DAG
 * on two member nodes with the size of all its files, and the page browses
 * it and downloads one file from inside it and the folder as a tar.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { extract } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrchestratorClient } from '../src/client/index.js'
import { createDashboardServer, createWorkspaceGateway } from '../src/dashboard/index.js'
import { createStorageNode } from '../src/node/index.js'
import { createOrchestrator } from '../src/orchestrator/index.js'
import type { Browser, Page } from 'playwright-core'
import type { OrchestratorClient } from '../src/client/index.js'
import type { DashboardServer, WorkspaceGateway } from '../src/dashboard/index.js'
import type { StorageNode } from '../src/node/index.js'
import type { Orchestrator } from '../src/orchestrator/index.js'
import { logCleanupError } from './helpers/cleanup.js'
import { hasChromium, launchChromium, warnIfNoChromium } from './helpers/browser.js'

warnIfNoChromium('dashboard folder browser tests')

const MiB = 1024 * 1024
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

/** Polls `check` (the page and the orchestrator have no event for these states). */
async function until (check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

describe.skipIf(!hasChromium)('dashboard folders in a browser', () => {
  let dir: string
  let orch: Orchestrator
  const nodes: StorageNode[] = []
  const clients: OrchestratorClient[] = []
  let gateway: WorkspaceGateway
  let dashboard: DashboardServer
  let browser: Browser
  let page: Page
  const ws = 'ws-folders-e2e'
  const big = randomBytes(MiB + 12345)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otd-folders-browser-'))
    await mkdir(join(dir, 'upload/trip/photos'), { recursive: true })
    await writeFile(join(dir, 'upload/trip/notes.txt'), 'day one\n')
    await writeFile(join(dir, 'upload/trip/photos/big.jpg'), big)
    orch = createOrchestrator({ dataDir: dir, port: 0 })
    const { url } = await orch.start()
    await orch.createWorkspace({ id: ws, name: 'Trips' })
    for (const name of ['laptop', 'server']) {
      const { node, token } = await orch.createNode({ name })
      await orch.addMember(ws, node.id)
      const storageNode = await createStorageNode({ storagePath: join(dir, name), quotaBytes: 16 * MiB, listenAddresses: LOOPBACK })
      nodes.push(storageNode)
      const client = createOrchestratorClient({ url, token, storageNode, nodeName: name })
      clients.push(client)
      await client.start()
      await client.waitConnected({ signal: AbortSignal.timeout(10_000) })
    }
    gateway = createWorkspaceGateway({
      storageNode: await createStorageNode({ storagePath: join(dir, 'gateway'), quotaBytes: 64 * MiB, listenAddresses: LOOPBACK }),
      orchestrator: orch
    })
    dashboard = createDashboardServer({ orchestrator: orch, gateway, port: 0 })
    await dashboard.start()
    browser = await launchChromium()
    page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1200, height: 900 } })
    await until(async () => {
      const s = await orch.workspaceStatus(ws)
      return s.nodesOnline === 2 && s.nodes.every(n => n.storage != null && n.peerId != null)
    }, 20_000)
  }, 60_000)

  afterAll(async () => {
    await browser?.close().catch(logCleanupError)
    await dashboard?.stop()
    await Promise.all(clients.map(async c => { await c.stop() }))
    await gateway?.stop()
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await orch?.stop()
    await rm(dir, { recursive: true, force: true })
  }, 30_000)

  it('uploads a folder with its paths, replicates it as a whole DAG, browses it and downloads a file and the tar', async () => {
    await page.goto(dashboard.url)
    await page.locator('#login-token').fill(orch.adminToken)
    await page.locator('#login-form button[type=submit]').click()
    await page.locator('#folder-upload-form').waitFor()

    await page.locator('#folder-input').setInputFiles(join(dir, 'upload/trip'))
    await page.locator('#folder-replication').fill('2')
    await page.locator('#folder-upload-button').click()
    await expect.poll(() => page.locator('#folder-status').textContent(), { timeout: 30_000 }).toMatch(/^trip uploaded: 4 files and folders/)

    // the pin: the folder's name, the size of all its files, on both members (whole DAG: every file readable offline)
    const pin = (await orch.workspaceStatus(ws)).pins.find(p => p.name === 'trip')
    expect(pin).toBeDefined()
    const root = pin?.cid as string
    const total = 'day one\n'.length + big.length
    expect(pin?.size).toBe(total)
    await until(async () => (await orch.pinStatus(ws, root)).copies >= 2, 30_000)
    for (const n of nodes) {
      const member = n.workspace(ws)
      expect((await member.pins()).find(p => p.cid.toString() === root)?.size).toBe(total)
      const stat = await member.stat(`${root}/photos/big.jpg`, { offline: true })
      expect(stat).toMatchObject({ size: big.length, local: true })
    }

    // browse: the folder, then the sub-folder
    await page.locator('#browse-body tr').nth(1).waitFor()
    expect(await page.locator('#browse-body tr td:first-child').allTextContents()).toEqual(['notes.txt', 'photos/'])
    await page.locator('#browse-body a', { hasText: 'photos/' }).click()
    await expect.poll(() => page.locator('#browse-path').textContent()).toBe(`${root}/photos`)

    // one file from inside it
    const [file] = await Promise.all([page.waitForEvent('download'), page.locator('#browse-body a', { hasText: 'Download' }).first().click()])
    expect(file.suggestedFilename()).toBe('big.jpg')
    expect(Buffer.compare(await readFile(await file.path()), big)).toBe(0)

    // the whole folder as a tar
    await page.locator('#browse-up').click()
    await expect.poll(() => page.locator('#browse-path').textContent()).toBe(root)
    const [tar] = await Promise.all([page.waitForEvent('download'), page.locator('#browse-tar').click()])
    expect(tar.suggestedFilename()).toBe(`${root}.tar`)
    const ex = extract()
    const names: string[] = []
    const done = (async () => { for await (const e of ex) { names.push(e.header.name); e.resume() } })()
    ex.end(await readFile(await tar.path()))
    await done
    expect(names).toEqual(expect.arrayContaining([root, `${root}/notes.txt`, `${root}/photos`, `${root}/photos/big.jpg`]))
  }, 120_000)
})
