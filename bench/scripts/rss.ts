/**
 * Peak RSS of each process for a large (default 1 GiB) add, get, cat and transfer (the get and
 * cat rows note the size of V8's new space at the end: the runner starts with a small one).
 * Every operation runs in a fresh process; the number is its whole-life peak
 * (VmHWM of the process on Linux; `process.resourceUsage().maxRSS` elsewhere, which on Linux
 * would carry the bench parent's peak across fork + exec). Target: < 200 MiB.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { BenchContext } from '../lib/context.js'
import { writeRandomFile } from '../lib/files.js'
import { addInChild, benchWorkspace, readInChild, startNode, transferInChildren, type ReadResult } from '../lib/node-ops.js'
import { MiB, withinLimit, type Row } from '../lib/report.js'

export const RSS_LIMIT = 200 * MiB

export async function rssBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const size = options.rssSize
  const file = path.join(dir, 'input.bin')
  log(`rss: writing ${size} random bytes`)
  await writeRandomFile(file, size)
  const ws = benchWorkspace()
  const label = '< 200 MiB RSS'
  const rows: Row[] = []
  const limit = (r: Row): Row => withinLimit(r, 'rss', RSS_LIMIT, label)

  log('rss: idle node (started, one workspace joined, no work)')
  const idle = await startNode(path.join(dir, 'idle'), ws)
  const idleStop = await idle.child.stop()
  rows.push({ script: 'rss', name: 'idle node process (reference)', ms: 0, peakRssBytes: idleStop.maxRssBytes })

  const repo = path.join(dir, 'repo')
  log('rss: add')
  const a = await addInChild(repo, ws, file, 'kubo', options.cpuProf)
  rows.push(limit({ script: 'rss', name: 'add (kubo) process', bytes: size, ms: a.ms, peakRssBytes: a.peakRssBytes }))
  await fs.rm(file)

  log('rss: get')
  const out = path.join(dir, 'out.bin')
  const g = await readInChild('get', repo, ws, a.cid, out, options.cpuProf)
  const newSpace = (r: ReadResult): string => `new space ${(r.newSpaceBytes / MiB).toFixed(1)} MiB`
  rows.push(limit({ script: 'rss', name: 'get to file process', bytes: size, ms: g.ms, peakRssBytes: g.peakRssBytes, note: newSpace(g) }))
  await fs.rm(out, { force: true })

  log('rss: cat')
  const c = await readInChild('cat', repo, ws, a.cid, out, options.cpuProf)
  rows.push(limit({ script: 'rss', name: 'cat (bytes counted) process', bytes: size, ms: c.ms, peakRssBytes: c.peakRssBytes, note: newSpace(c) }))

  if (options.rssSkipTransfer) return rows
  log('rss: transfer')
  try {
    const t = await transferInChildren({ providerPath: repo, fetcherPath: path.join(dir, 'fetcher'), ws, cid: a.cid, timeout: Math.max(options.transferTimeout, 600_000), cpuProfDir: options.cpuProf })
    rows.push(limit({ script: 'rss', name: 'transfer: provider process', bytes: size, ms: t.ms, peakRssBytes: t.providerRssBytes }))
    rows.push(limit({ script: 'rss', name: 'transfer: fetcher (pin) process', bytes: size, ms: t.ms, peakRssBytes: t.fetcherRssBytes }))
  } catch (err: any) {
    // the add, get and idle rows stay: a failed (or stalled) transfer is a row of its own
    log(`rss: transfer failed: ${String(err?.message ?? err)}`)
    rows.push({ script: 'rss', name: 'transfer (provider and fetcher processes)', bytes: size, ms: 0, target: label, pass: false, note: `failed: ${String(err?.message ?? err)}` })
  }
  return rows
}
