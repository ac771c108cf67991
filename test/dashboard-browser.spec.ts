/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core):
 * an orchestrator, two storage nodes connected with the orchestrator client,
 * the workspace gateway and the dashboard server, all on 127.0.0.1.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { OrchestratorClient } from '../src/client/index.js'
import type { WorkspaceGateway } from '../src/dashboard/index.js'
import type { StorageNode } from '../src/node/index.js'
import type { Orchestrator } from '../src/orchestrator/index.js'
import { hasChromium, warnIfNoChromium } from './helpers/browser.js'
import { MiB, startDashboardWorld, until } from './helpers/dashboard-world.js'
import type { DashboardWorld } from './helpers/dashboard-world.js'

warnIfNoChromium('dashboard browser tests')

describe.skipIf(!hasChromium)('dashboard in a browser', () => {
  let world: DashboardWorld
  let orch: Orchestrator
  let nodes: StorageNode[]
  let clients: OrchestratorClient[]
  let gateway: WorkspaceGateway
  let page: Page
  let key: string
  const ws = 'ws-e2e'

  beforeAll(async () => {
    world = await startDashboardWorld({ name: 'otd-browser', workspace: ws, workspaceName: 'Design team', nodeQuotaBytes: 8 * MiB })
    ;({ orch, nodes, clients, gateway, page } = world)
    key = await orch.swarmKeyFor(ws)
  }, 60_000)

  afterAll(async () => {
    await world?.close()
  }, 30_000)

  it('logs in, uploads, watches two pinned copies, downloads, unpins, and explains a quota error', async () => {
    const seen: string[] = []
    page.on('response', (res) => {
      const type = res.headers()['content-type'] ?? ''
      if (/json|javascript|html|css|event-stream/.test(type)) void res.text().then(t => seen.push(t), () => {})
    })

    await world.login()

    // two nodes with their usage, and the empty state
    await page.locator('#usage-bars .row[data-node]').nth(1).waitFor()
    expect(await page.locator('#usage-bars .row[data-node]').count()).toBe(2)
    await expect.poll(() => page.locator('#nodes-online').textContent(), { timeout: 10_000 }).toBe('2 / 2')
    expect(await page.locator('#total-quota').textContent()).toBe('16 MiB')
    expect(await page.locator('#pins-empty').isVisible()).toBe(true)
    await page.locator('#live.on').waitFor({ timeout: 10_000 })

    // upload 1.5 MiB and watch it reach `pinned` on both nodes (live, without reload)
    const content = randomBytes(1.5 * MiB)
    await page.locator('#upload-file').setInputFiles({ name: 'photo.bin', mimeType: 'application/octet-stream', buffer: content })
    await page.locator('#upload-replication').fill('2')
    await page.locator('#upload-button').click()
    const row = page.locator('#pins-body tr').first()
    await row.waitFor()
    await page.locator('#pins-body tr .state.pinned').nth(1).waitFor({ timeout: 30_000 })
    expect(await row.locator('.copies').textContent()).toBe('2 / 2')
    await expect.poll(() => page.locator('#upload-status').textContent(), { timeout: 10_000 }).toBe('photo.bin is stored on 2 nodes.')
    // the gateway was only a staging area: it drops its own pin once the members hold the copies
    await until(async () => (await gateway.storageNode.workspace(ws).pins()).length === 0, 10_000)
    expect(gateway.workspaces().map(w => w.workspaceId)).toEqual([ws])
    expect(gateway.bootstrapAddresses(ws).every(a => a.startsWith('/ip4/127.0.0.1/'))).toBe(true)
    expect(await row.locator('td').first().textContent()).toBe('photo.bin')
    expect(await row.locator('.size').textContent()).toBe('1.5 MiB')
    await expect.poll(async () => await page.locator('#total-used').textContent(), { timeout: 10_000 }).not.toBe('0 B')
    const usedAfterUpload = (await orch.workspaceStatus(ws)).storage.used
    // each bar's fill follows the node's usage (about 19 % of 8 MiB)
    const fill = await page.locator('#usage-bars .row[data-node] .bar > span').first().evaluate(el => (el as HTMLElement).style.width)
    expect(fill).toMatch(/^(1[5-9]|2[0-9])%$/)
    expect(usedAfterUpload).toBeGreaterThan(3 * MiB)

    await mkdir('test-results', { recursive: true })
    await page.screenshot({ path: 'test-results/dashboard-workspace.png', fullPage: true })

    // download and compare bytes
    const [download] = await Promise.all([page.waitForEvent('download'), row.locator('a.download').click()])
    expect(download.suggestedFilename()).toBe('photo.bin')
    const downloaded = await readFile(await download.path())
    expect(Buffer.compare(downloaded, content)).toBe(0)

    // the node view shows the pin on that node
    await page.locator('#usage-bars a[data-node]').first().click()
    await page.locator('#node-tab').waitFor()
    await page.locator('#node-pins-body tr .state.pinned').waitFor()
    expect(await page.locator('#node-status').textContent()).toContain('online')
    // the node reports its drive's free space
    await expect.poll(async () => await page.locator('#node-drive-free').textContent(), { timeout: 10_000 }).toMatch(/^\d+(\.\d+)? (KiB|MiB|GiB|TiB)$/)
    await page.screenshot({ path: 'test-results/dashboard-node.png', fullPage: true })
    // "Unpin here" on a copy that no other node could replace (the other node holds one already): a readable refusal
    await page.locator('#node-pins-body tr button.unpin').click()
    await page.locator('#error').waitFor({ state: 'visible' })
    expect(await page.locator('#error-text').textContent()).toMatch(/^No other online member can take a copy/)
    expect((await orch.pinStatus(ws, (await orch.workspaceStatus(ws)).pins[0].cid)).copies).toBe(2)
    await page.locator('#error-close').click()
    await page.locator('#error').waitFor({ state: 'hidden' })
    await page.locator('#tab-storage').click()

    // unpin: the row goes, and once the nodes collect garbage the totals fall
    await page.locator('#pins-body tr button.unpin').click()
    await page.locator('#pins-empty').waitFor()
    await until(async () => (await Promise.all(nodes.map(async n => await n.workspace(ws).pins()))).every(p => p.length === 0), 10_000)
    // (a node's gc skips blocks that a running operation touched, so collect until they are gone)
    await until(async () => {
      for (const n of nodes) await n.workspace(ws).gc()
      for (const c of clients) await c.reportStorage()
      return (await orch.workspaceStatus(ws)).storage.used < 64 * 1024
    }, 15_000)
    await expect.poll(async () => await page.locator('#total-used').textContent(), { timeout: 10_000 }).toMatch(/^\d+(\.\d+)? (B|KiB)$/)

    // more than any node can hold: a readable quota error, nothing pinned
    await page.locator('#upload-file').setInputFiles({ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(10 * MiB, 7) })
    await page.locator('#upload-button').click()
    await page.locator('#error').waitFor({ state: 'visible' })
    const message = await page.locator('#error-text').textContent()
    expect(message).toMatch(/^Not enough storage: this needs 10 MiB but only .+ is free\./)
    expect((await orch.workspaceStatus(ws)).pins).toHaveLength(0)
    await page.screenshot({ path: 'test-results/dashboard-quota-error.png', fullPage: true })

    // the page never saw the swarm key
    const all = seen.join('\n').toLowerCase()
    expect(seen.length).toBeGreaterThan(5)
    expect(all).not.toContain(key.toLowerCase())
  }, 90_000)
})
