/**
 * Leaf workers (src/node/export/leaf-worker.ts) stop once idle, so a long-running node does
 * not keep their isolates after a `get`, and start again for the next file.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createBlockLayout } from '../src/blockstore/block-layout.js'
import { createLocalFirstBlockReader, resolveFile } from '../src/node/export/index.js'
import { runningLeafWorkers, setLeafWorkerIdleTime } from '../src/node/export/leaf-worker.js'
import { importFile, layoutFor } from '../src/node/import/index.js'
import type { BlockLayout } from '../src/blockstore/block-layout.js'
import type { CID } from 'multiformats/cid'

describe('leaf workers when idle', () => {
  let dir: string
  let layout: BlockLayout
  let cid: CID
  let bytes: Buffer
  beforeAll(async () => {
    setLeafWorkerIdleTime(500)
    dir = await mkdtemp(join(tmpdir(), 'export-leaf-idle-'))
    layout = createBlockLayout({ directory: join(dir, 'blocks') })
    const store = layout.createFsBlockstore()
    await store.open()
    bytes = randomBytes(3 * 1024 * 1024 + 5)
    cid = (await importFile([bytes], store, { layout: layoutFor({ profile: 'kubo' }) })).cid
  })
  afterAll(async () => {
    setLeafWorkerIdleTime(10_000)
    await rm(dir, { recursive: true, force: true })
  })

  async function getOnce (name: string): Promise<void> {
    const reader = createLocalFirstBlockReader({
      layout: { pathOf: (c) => layout.pathOf(c), readBatched: async (c, o) => layout.readBatched(c, o) },
      fallback: async (c) => { throw new Error(`no fallback for ${c}`) }
    })
    const file = await resolveFile(cid, reader)
    const out = join(dir, name)
    await file.writeTo(out)
    // checked at once: the idle time starts when the last batch is done
    expect(runningLeafWorkers()).toBeGreaterThan(0)
    expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
  }

  it('stop after the idle time and start again for the next file', async () => {
    await getOnce('first.out')
    await vi.waitFor(() => { expect(runningLeafWorkers()).toBe(0) }, { timeout: 10_000, interval: 20 })
    await getOnce('second.out')
  })
})
