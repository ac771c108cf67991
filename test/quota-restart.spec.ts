import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createQuotaBlockstore, createQuotaLedger } from '../src/blockstore/index.js'
import type { QuotaBlockstore, QuotaLedger } from '../src/blockstore/index.js'
import { randomBlock as block, chunked } from './helpers/blocks.js'
import { killWriterMidway } from './helpers/killed-writer.js'

/** An independent scan of a blockstore-fs directory: sizes of the *.data files, and any leftover temp files. */
async function scanDisk (dir: string): Promise<{ bytes: number, blocks: number, tmp: number }> {
  const result = { bytes: 0, blocks: 0, tmp: 0 }
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  for (const e of entries) {
    if (!e.isFile()) continue
    if (e.name.endsWith('.tmp')) result.tmp++
    if (!e.name.endsWith('.data')) continue
    result.bytes += (await fs.stat(path.join(e.parentPath ?? (e as any).path, e.name))).size
    result.blocks++
  }
  return result
}

async function readState (file: string): Promise<any> {
  return JSON.parse(await fs.readFile(file, 'utf8'))
}

describe('QuotaLedger persistence: exact after restart', () => {
  let dir: string
  let statePath: string
  let blocksDir: string
  const toClose: Array<QuotaBlockstore | QuotaLedger> = []

  async function openNode (limitBytes = 64 * 1024 * 1024): Promise<{ ledger: QuotaLedger, store: QuotaBlockstore }> {
    const ledger = createQuotaLedger({ limitBytes, statePath, reserveBytes: 0 })
    await ledger.open()
    const store = createQuotaBlockstore({ child: new FsBlockstore(blocksDir), ledger, name: 'ws', directory: blocksDir })
    await store.open()
    toClose.push(store, ledger)
    return { ledger, store }
  }

  async function closeNode ({ ledger, store }: { ledger: QuotaLedger, store: QuotaBlockstore }): Promise<void> {
    await store.close()
    await ledger.close()
  }

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'quota-restart-'))
    statePath = path.join(dir, 'ipfs', 'quota-ledger.json')
    blocksDir = path.join(dir, 'ipfs', 'blocks')
  })

  afterEach(async () => {
    for (const x of toClose.splice(0)) await x.close()
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('usage after a clean close and reopen equals the bytes on disk', async () => {
    const node = await openNode()
    const data = await Promise.all(Array.from({ length: 40 }, async (_, i) => block(1000 + i * 37)))
    await Promise.all(data.map(async (d, i) => node.store.put(d.cid, i % 2 === 0 ? d.bytes : chunked(d.bytes, 256))))
    await Promise.all(data.slice(0, 7).map(async d => node.store.delete(d.cid)))
    const before = node.store.used
    await closeNode(node)
    expect((await readState(statePath)).stores.ws).toEqual({ used: before, clean: true })

    const again = await openNode()
    const disk = await scanDisk(blocksDir)
    expect(again.store.used).toBe(disk.bytes)
    expect(again.ledger.used).toBe(disk.bytes)
    expect(before).toBe(disk.bytes)
  })

  it('marks the store dirty (durably) on the first change after open, clean again at close', async () => {
    const node = await openNode()
    expect((await readState(statePath)).stores.ws.clean).toBe(true)
    const a = await block(100)
    await node.store.put(a.cid, a.bytes)
    expect((await readState(statePath)).stores.ws.clean).toBe(false)
    await node.store.close()
    expect((await readState(statePath)).stores.ws).toEqual({ used: 100, clean: true })
  })

  it('rescans when the state file is missing, corrupt, or not clean', async () => {
    const node = await openNode()
    for (let i = 0; i < 10; i++) {
      const d = await block(500 + i)
      await node.store.put(d.cid, d.bytes)
    }
    const expected = node.store.used
    await closeNode(node)

    for (const state of [undefined, 'not json{', JSON.stringify({ version: 1, stores: { ws: { used: 3, clean: false } } })]) {
      if (state == null) await fs.rm(statePath)
      else await fs.writeFile(statePath, state)
      const again = await openNode()
      expect(again.store.used).toBe(expected)
      await closeNode(again)
    }
  })

  it('a process killed mid-write: usage after reopening equals the bytes on disk, no temp files left', async () => {
    const writer = `
      import { randomBytes } from 'node:crypto'
      import { FsBlockstore } from 'blockstore-fs'
      import { CID } from 'multiformats/cid'
      import * as raw from 'multiformats/codecs/raw'
      import { sha256 } from 'multiformats/hashes/sha2'
      import { createQuotaBlockstore, createQuotaLedger } from './src/blockstore/index.ts'
      const { STATE_PATH, BLOCKS_DIR } = process.env
      const ledger = createQuotaLedger({ limitBytes: Infinity, statePath: STATE_PATH, reserveBytes: 0 })
      const store = createQuotaBlockstore({ child: new FsBlockstore(BLOCKS_DIR), ledger, name: 'ws', directory: BLOCKS_DIR })
      await store.open()
      async function * slow (bytes) {
        for (let i = 0; i < bytes.length; i += 4096) {
          await new Promise(resolve => setImmediate(resolve))
          yield bytes.subarray(i, i + 4096)
        }
      }
      const recent = []
      for (let round = 1; ; round++) {
        const ops = []
        for (let i = 0; i < 8; i++) {
          const bytes = randomBytes(1 + Math.floor(Math.random() * 64 * 1024))
          const cid = CID.createV1(raw.code, await sha256.digest(bytes))
          ops.push(store.put(cid, i % 2 === 0 ? bytes : slow(bytes)))
          recent.push(cid)
        }
        if (recent.length > 40) ops.push(store.delete(recent.shift()), store.delete(recent.shift()))
        await Promise.all(ops)
        if (round === 5) process.stdout.write('ready\\n')
      }
    `
    for (let run = 0; run < 3; run++) {
      await killWriterMidway(writer, { STATE_PATH: statePath, BLOCKS_DIR: blocksDir })
      expect((await readState(statePath)).stores.ws.clean).toBe(false)

      const node = await openNode()
      const disk = await scanDisk(blocksDir)
      expect(disk.blocks).toBeGreaterThan(0)
      expect(node.store.used).toBe(disk.bytes)
      expect(node.ledger.usage().stores.ws).toBe(disk.bytes)
      expect(disk.tmp).toBe(0)
      await closeNode(node)
      toClose.splice(0)
    }
  })
})
