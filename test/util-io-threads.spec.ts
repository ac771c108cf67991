/**
 * The process's I/O threads (src/util/io-threads.ts): one pool serves the fs worker's batches
 * and the leaves of a get, never more threads than `ioThreadCount()`; an operation that throws
 * in a thread rejects its caller with the error's message and code, and the thread goes on.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createBlockLayout } from '../src/blockstore/block-layout.js'
import { createLocalFirstBlockReader, resolveFile } from '../src/node/export/index.js'
import { importFile, layoutFor } from '../src/node/import/index.js'
import { fsWorker } from '../src/util/fs-worker.js'
import { ioThreadAt, ioThreadCount, runningIoThreads, startIoThreads } from '../src/util/io-threads.js'
import type { IoOps } from '../src/util/io-threads.js'

const FAILING: IoOps = { name: 'test-fail', source: 'ops["test-fail"] = (b) => { const e = new Error("no " + b.what); e.code = "ETEST"; throw e }' }
const ECHO: IoOps = { name: 'test-echo', source: 'ops["test-echo"] = (b) => [b.n + 1]' }

describe('I/O threads', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'io-threads-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('a get and the fs worker share the pool: never more than ioThreadCount() threads', async () => {
    const layout = createBlockLayout({ directory: join(dir, 'blocks') })
    const store = layout.createFsBlockstore()
    await store.open()
    const bytes = randomBytes(9 * 1024 * 1024 + 3)
    const { cid } = await importFile([bytes], store, { layout: layoutFor({ profile: 'kubo' }) })
    const small = join(dir, 'small.bin')
    await writeFile(small, 'hello')
    startIoThreads()
    await vi.waitFor(() => { expect(fsWorker('read')).toBeDefined() }, { timeout: 10_000, interval: 10 })
    const reader = createLocalFirstBlockReader({ layout, fallback: async (c) => { throw new Error(`no fallback for ${c}`) } })
    const file = await resolveFile(cid, reader)
    const out = join(dir, 'out.bin')
    const fsw = fsWorker('read')
    if (fsw == null) throw new Error('the fs read worker is not online')
    const [written, read] = await Promise.all([file.writeTo(out), fsw.readSmall(small, 1024)])
    expect(written).toBe(bytes.length)
    expect(Buffer.from(read.bytes ?? []).toString()).toBe('hello')
    expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
    expect(runningIoThreads()).toBeGreaterThan(0)
    expect(runningIoThreads()).toBeLessThanOrEqual(ioThreadCount())
  })

  it('an operation that throws rejects with its message and code; the thread keeps serving', async () => {
    const t = ioThreadAt(0)
    expect(t).toBeDefined()
    await expect(t?.run(FAILING, { what: 'luck' })).rejects.toMatchObject({ code: 'ETEST', message: expect.stringContaining('no luck') })
    expect(await t?.run<number>(ECHO, { n: 41 })).toBe(42)
  })
})
