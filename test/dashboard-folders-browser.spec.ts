/**
 * Folders end to end in a real browser (Debian's Chromium through
 * playwright-core): a folder uploaded with `<input webkitdirectory>` keeps
 * its paths (the progress bar shown while it is sent), the orchestrator replicates the pinned directory as a whole DAG
 * on two member nodes with the size of all its files, and the page browses
 * it and downloads one file from inside it and the folder as a tar.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { extract } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { StorageNode } from '../src/node/index.js'
import type { Orchestrator } from '../src/orchestrator/index.js'
import { hasChromium, warnIfNoChromium } from './helpers/browser.js'
import { MiB, startDashboardWorld, until } from './helpers/dashboard-world.js'
import type { DashboardWorld } from './helpers/dashboard-world.js'

warnIfNoChromium('dashboard folder browser tests')

describe.skipIf(!hasChromium)('dashboard folders in a browser', () => {
  let world: DashboardWorld
  let dir: string
  let orch: Orchestrator
  let nodes: StorageNode[]
  let page: Page
  const ws = 'ws-folders-e2e'
  const big = randomBytes(MiB + 12345)

  beforeAll(async () => {
    world = await startDashboardWorld({ name: 'otd-folders-browser', workspace: ws, workspaceName: 'Trips', nodeQuotaBytes: 16 * MiB })
    ;({ dir, orch, nodes, page } = world)
    await mkdir(join(dir, 'upload/trip/photos'), { recursive: true })
    await writeFile(join(dir, 'upload/trip/notes.txt'), 'day one\n')
    await writeFile(join(dir, 'upload/trip/photos/big.jpg'), big)
  }, 60_000)

  afterAll(async () => {
    await world?.close()
  }, 30_000)

  it('uploads a folder with its paths and a progress bar, replicates it as a whole DAG, browses it and downloads a file and the tar', async () => {
    await world.login()
    await page.locator('#folder-upload-form').waitFor()

    await page.locator('#folder-input').setInputFiles(join(dir, 'upload/trip'))
    await page.locator('#folder-replication').fill('2')
    // the progress bar, as the page sets it: shown, following the bytes sent up to 100%, hidden at the end
    await page.evaluate(() => {
      const bar = document.getElementById('folder-progress') as HTMLProgressElement
      const seen: string[] = []
      ;(window as unknown as { folderProgress: string[] }).folderProgress = seen
      new MutationObserver(() => { seen.push(bar.hidden ? 'hidden' : String(bar.value)) }).observe(bar, { attributes: true })
    })
    await page.locator('#folder-upload-button').click()
    await expect.poll(() => page.locator('#folder-status').textContent(), { timeout: 30_000 }).toMatch(/^trip uploaded: 4 files and folders/)
    const progress = await page.evaluate(() => (window as unknown as { folderProgress: string[] }).folderProgress)
    expect(progress.indexOf('100')).toBeGreaterThan(0)
    expect(progress.slice(0, progress.indexOf('100')).every(v => v !== 'hidden')).toBe(true)
    expect(progress.at(-1)).toBe('hidden')

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
