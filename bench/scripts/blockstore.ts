/**
 * QuotaBlockstore vs bare FsBlockstore: putMany then get of the same blocks,
 * 256 KiB blocks and 4 KiB blocks, alternating which store goes first, best
 * of several rounds. Target: QuotaBlockstore >= 0.95x bare.
 */
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { randomBytes } from 'node:crypto'
import { createQuotaBlockstore, createQuotaLedger } from '../../src/blockstore/index.js'
import { removeDir } from '../lib/files.js'
import { compare, type Row } from '../lib/report.js'
import { best, type BenchContext } from '../lib/context.js'
import type { Blockstore } from 'interface-blockstore'

const TARGET = 0.95
const GET_CONCURRENCY = 16

async function keys (count: number): Promise<CID[]> {
  const out: CID[] = []
  const b = Buffer.alloc(8)
  for (let i = 0; i < count; i++) {
    b.writeBigUInt64BE(BigInt(i) + BigInt(Date.now()) * 1_000_000n)
    out.push(CID.createV1(raw.code, await sha256.digest(b)))
  }
  return out
}

interface StoreTimes { putMs: number, getMs: number }

async function runOnce (store: Blockstore & { open?: () => Promise<void>, close?: () => Promise<void> }, cids: CID[], pool: Uint8Array[]): Promise<StoreTimes> {
  await store.open?.()
  let start = performance.now()
  for await (const _ of store.putMany((function * () {
    for (let i = 0; i < cids.length; i++) yield { cid: cids[i], bytes: pool[i % pool.length] }
  })())) { /* drain */ }
  const putMs = performance.now() - start

  start = performance.now()
  let next = 0
  let bytes = 0
  const worker = async (): Promise<void> => {
    while (next < cids.length) {
      const cid = cids[next++]
      for await (const chunk of store.get(cid)) bytes += chunk.byteLength
    }
  }
  await Promise.all(Array.from({ length: GET_CONCURRENCY }, worker))
  const getMs = performance.now() - start
  await store.close?.()
  if (bytes !== cids.reduce((n, _, i) => n + pool[i % pool.length].byteLength, 0)) throw new Error('blockstore bench read back the wrong number of bytes')
  return { putMs, getMs }
}

export async function blockstoreBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const rounds = options.quick ? 2 : 3
  const cases = [
    { label: '256 KiB', blockSize: 256 * 1024, count: Math.max(1, Math.floor(options.blockBytes / (256 * 1024))) },
    { label: '4 KiB', blockSize: 4 * 1024, count: options.smallBlocks }
  ]
  const rows: Row[] = []
  for (const c of cases) {
    if (c.count === 0) continue
    const pool = Array.from({ length: 16 }, () => randomBytes(c.blockSize))
    const bare: StoreTimes[] = []
    const quota: StoreTimes[] = []
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['bare', 'quota'] : ['quota', 'bare']
      for (const kind of order) {
        const cids = await keys(c.count)
        const storeDir = path.join(dir, `${kind}-${c.blockSize}-${round}`)
        log(`blockstore: ${c.label} x ${c.count}, ${kind}, round ${round + 1}/${rounds}`)
        const fs = new FsBlockstore(storeDir)
        if (kind === 'bare') {
          bare.push(await runOnce(fs, cids, pool))
        } else {
          const ledger = createQuotaLedger({ limitBytes: Infinity })
          const store = createQuotaBlockstore({ child: fs, ledger, name: 'bench', directory: storeDir })
          quota.push(await runOnce(store as any, cids, pool))
          await ledger.close()
        }
        await removeDir(storeDir)
      }
    }
    const bytes = c.count * c.blockSize
    const common = { script: 'blockstore', bytes, items: c.count, itemUnit: 'blocks' }
    const barePut: Row = { ...common, name: `FsBlockstore putMany ${c.label} (baseline)`, ms: best(bare.map(t => t.putMs)) }
    const quotaPut: Row = { ...common, name: `QuotaBlockstore putMany ${c.label}`, ms: best(quota.map(t => t.putMs)) }
    const bareGet: Row = { ...common, name: `FsBlockstore get ${c.label} (baseline)`, ms: best(bare.map(t => t.getMs)) }
    const quotaGet: Row = { ...common, name: `QuotaBlockstore get ${c.label}`, ms: best(quota.map(t => t.getMs)) }
    rows.push(barePut, compare(quotaPut, barePut, TARGET, 'bare'), bareGet, compare(quotaGet, bareGet, TARGET, 'bare'))
  }
  return rows
}
