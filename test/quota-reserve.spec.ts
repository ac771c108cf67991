import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { FsBlockstore } from 'blockstore-fs'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createQuotaBlockstore, createQuotaLedger, defaultReserveBytes } from '../src/blockstore/index.js'
import type { QuotaBlockstore, QuotaLedger, QuotaLedgerInit, StatFsResult } from '../src/blockstore/index.js'
import { randomBlock as block, chunked, rejection } from './helpers/blocks.js'

const KiB = 1024
const MiB = 1024 * KiB

describe('disk reserve', () => {
  it('defaults to 1% of the drive or 512 MiB, whichever is smaller', () => {
    expect(defaultReserveBytes(10 * 1024 * MiB)).toBe(Math.floor(10 * 1024 * MiB / 100))
    expect(defaultReserveBytes(4 * 1024 * 1024 * MiB)).toBe(512 * MiB)
    expect(defaultReserveBytes(0)).toBe(0)
  })

  describe('with a simulated drive (injected statfs)', () => {
    let dir: string
    let ledger: QuotaLedger
    let drive: StatFsResult
    let statfsCalls: number
    const stores: QuotaBlockstore[] = []

    async function setup (init: Partial<QuotaLedgerInit>): Promise<void> {
      ledger = createQuotaLedger({
        limitBytes: 1024 * MiB,
        statfs: async () => { statfsCalls++; return { ...drive } },
        ...init
      })
      await ledger.open()
    }

    async function store (name = 'ws'): Promise<QuotaBlockstore> {
      const directory = path.join(dir, name)
      const s = createQuotaBlockstore({ child: new FsBlockstore(directory), ledger, name, directory })
      await s.open()
      stores.push(s)
      return s
    }

    beforeEach(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'quota-reserve-'))
      // a 100 MiB drive with 10 MiB free
      drive = { bsize: 4096, blocks: 100 * MiB / 4096, bavail: 10 * MiB / 4096 }
      statfsCalls = 0
    })

    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close()
      await ledger.close()
      await fs.rm(dir, { recursive: true, force: true })
    })

    it('refuses a write that would leave less than the reserve free, and writes nothing', async () => {
      await setup({ reserveBytes: 9.5 * MiB })
      const s = await store()
      const big = await block(MiB)
      const err = await rejection(s.put(big.cid, big.bytes))
      expect(err.name).toBe('DiskReserveError')
      expect(err.code).toBe('ERR_DISK_RESERVE')
      expect(err).toMatchObject({ free: 10 * MiB, reserve: 9.5 * MiB, requested: MiB })
      expect(await s.has(big.cid)).toBe(false)
      expect(s.used).toBe(0)

      const streamErr = await rejection(s.put(big.cid, chunked(big.bytes, 64 * KiB)))
      expect(streamErr.code).toBe('ERR_DISK_RESERVE')
      expect(streamErr.requested).toBeGreaterThan(512 * KiB)
      expect(await s.has(big.cid)).toBe(false)
      expect((await fs.readdir(path.join(dir, 'ws'), { recursive: true, withFileTypes: true })).filter(e => e.isFile())).toEqual([])

      const small = await block(256 * KiB)
      await s.put(small.cid, small.bytes)
      expect(s.used).toBe(256 * KiB)
    })

    it('takes the reserve as a function of the drive size', async () => {
      await setup({ reserveBytes: total => total / 10 })
      const s = await store()
      const b = await block(1)
      expect(await rejection(s.put(b.cid, b.bytes))).toMatchObject({ code: 'ERR_DISK_RESERVE', reserve: 10 * MiB })
    })

    it('caches statfs and subtracts bytes written since, across the stores of one drive', async () => {
      drive.bavail = MiB / 4096
      await setup({ reserveBytes: 0, statfsCacheMs: 60_000 })
      const a = await store('a')
      const b = await store('b')
      const small = await Promise.all(Array.from({ length: 20 }, async () => block(KiB)))
      for (const x of small) await a.put(x.cid, x.bytes)
      expect(statfsCalls).toBe(1)

      const [x, y] = [await block(600 * KiB), await block(600 * KiB)]
      await a.put(x.cid, x.bytes)
      // the drive still reports 1 MiB free, but 620 KiB were written since: 600 KiB more does not fit
      expect(await rejection(b.put(y.cid, y.bytes))).toMatchObject({ code: 'ERR_DISK_RESERVE', free: MiB - 620 * KiB })
      expect(statfsCalls).toBe(1)
      // deleting gives the space back
      await a.delete(x.cid)
      await b.put(y.cid, y.bytes)
      expect(statfsCalls).toBe(1)
    })

    it('asks the drive again once the cached answer is stale', async () => {
      drive.bavail = 0
      let clock = 0
      await setup({ reserveBytes: 0, statfsCacheMs: 20, now: () => clock })
      const s = await store()
      const b = await block(KiB)
      expect((await rejection(s.put(b.cid, b.bytes))).code).toBe('ERR_DISK_RESERVE')
      drive.bavail = MiB / 4096 // someone freed space on the drive
      clock += 40 // the cached answer is now stale
      await s.put(b.cid, b.bytes)
      expect(statfsCalls).toBe(2)
    })

    it('a quota above the free space still stops at the reserve', async () => {
      await setup({ limitBytes: Infinity, reserveBytes: 9 * MiB })
      const s = await store()
      const blocks = await Promise.all(Array.from({ length: 12 }, async () => block(100 * KiB)))
      const results = await Promise.allSettled(blocks.map(async b => s.put(b.cid, chunked(b.bytes, 16 * KiB))))
      const ok = results.filter(r => r.status === 'fulfilled').length
      for (const r of results) if (r.status === 'rejected') expect(r.reason.code).toBe('ERR_DISK_RESERVE')
      expect(ok * 100 * KiB).toBeLessThanOrEqual(MiB)
      expect(s.used).toBe(ok * 100 * KiB)
    })
  })

  describe('on a real 4 MiB tmpfs', () => {
    let mountPoint: string
    let mounted = false

    beforeAll(async () => {
      mountPoint = await fs.mkdtemp(path.join(os.tmpdir(), 'quota-tmpfs-'))
      if (process.platform !== 'linux' || process.getuid?.() !== 0) return
      try {
        await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint])
        mounted = true
      } catch (err) {
        console.warn('tmpfs mount failed, the disk reserve tests on tmpfs skip:', err)
      }
    })

    afterAll(async () => {
      if (mounted) await promisify(execFile)('umount', [mountPoint])
      await fs.rm(mountPoint, { recursive: true, force: true })
    })

    it('fills the drive up to the default reserve, never to ENOSPC', async (ctx) => {
      if (!mounted) ctx.skip()
      const ledger = createQuotaLedger({ limitBytes: Infinity, statePath: path.join(mountPoint, 'quota-ledger.json') })
      await ledger.open()
      const directory = path.join(mountPoint, 'blocks')
      const s = createQuotaBlockstore({ child: new FsBlockstore(directory), ledger, name: 'ws', directory })
      await s.open()
      try {
        // a streamed block bigger than the drive is refused part way, and its partial file removed
        const huge = await block(8 * MiB)
        expect((await rejection(s.put(huge.cid, chunked(huge.bytes, 256 * KiB)))).code).toBe('ERR_DISK_RESERVE')
        expect(s.used).toBe(0)

        let err: any
        let stored = 0
        for (let i = 0; i < 100 && err == null; i++) {
          const b = await block(64 * KiB)
          try {
            await s.put(b.cid, i % 2 === 0 ? b.bytes : chunked(b.bytes, 16 * KiB))
            stored++
          } catch (e) {
            err = e
          }
        }
        expect(err?.code).toBe('ERR_DISK_RESERVE')
        expect(stored).toBeGreaterThan(40)
        expect(s.used).toBe(stored * 64 * KiB)
        const st = await fs.statfs(mountPoint)
        expect(st.bavail * st.bsize).toBeGreaterThanOrEqual(defaultReserveBytes(st.blocks * st.bsize) - 64 * KiB)
      } finally {
        await s.close()
        await ledger.close()
      }
    })
  })
})
