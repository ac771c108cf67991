/**
 * Many small files: N files of 4 KiB in 100 folders, added as one directory
 * (addDirectory: one pin for the tree, batched writes) vs `cp -r` of the same
 * tree in the same run; then the tree pinned by a second node from the first
 * over the private swarm, and downloaded as a folder (get). Target: add >=
 * 0.25x cp -r, every process under 200 MiB peak RSS. Then one folder of
 * `--big-folder` files (100,000) added and downloaded, peak RSS of each.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { childUsage, cpRecursive } from '../lib/baselines.js'
import type { BenchContext } from '../lib/context.js'
import { writeSmallFiles } from '../lib/files.js'
import { benchWorkspace, startNode } from '../lib/node-ops.js'
import { compare, MiB, withinLimit, type Row } from '../lib/report.js'

export const SMALL_FILES_TARGET = 0.25
export const SMALL_FILES_RSS_LIMIT = 200 * 2 ** 20
const RSS_LABEL = 'RSS < 200 MiB'

export async function smallFilesBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const src = path.join(dir, 'files')
  log(`small-files: writing ${options.smallFiles} files of ${options.smallFileSize} bytes`)
  const files = await writeSmallFiles(src, options.smallFiles, options.smallFileSize)
  const bytes = options.smallFiles * options.smallFileSize
  const items = files.length
  const row = (name: string, ms: number, peakRssBytes?: number, note?: string): Row =>
    ({ script: 'small-files', name, bytes, items, itemUnit: 'files', ms, peakRssBytes, note })

  const c = await cpRecursive(src, path.join(dir, 'cp-copy'))
  const base = row('cp -r (baseline)', c.ms)
  const rows: Row[] = [base]
  const ws = benchWorkspace()
  const providerRepo = path.join(dir, 'repo-a')

  log('small-files: addDirectory')
  let cid: string
  const a = await startNode(providerRepo, ws, { cpuProfDir: options.cpuProf })
  try {
    const r = await a.child.request<{ ms: number, cid: string }>('addDirectory', { path: src, profile: 'kubo' }, 600_000)
    cid = r.cid
    const { maxRssBytes } = await a.child.stop()
    rows.push(withinLimit(compare(row('addDirectory (kubo, one pin)', r.ms, maxRssBytes, r.cid), base, SMALL_FILES_TARGET, 'cp -r'), 'rss', SMALL_FILES_RSS_LIMIT, RSS_LABEL))
  } finally {
    a.child.kill()
  }

  log('small-files: pin from a peer, then get as a folder')
  const provider = await startNode(providerRepo, ws, { cpuProfDir: options.cpuProf })
  try {
    const fetcher = await startNode(path.join(dir, 'repo-b'), ws, { bootstrapPeers: provider.info.multiaddrs, cpuProfDir: options.cpuProf })
    try {
      const [p0, f0] = await Promise.all([childUsage(provider.child), childUsage(fetcher.child)])
      const p = await fetcher.child.request<{ ms: number }>('pin', { cid, timeout: 60_000 }, 600_000)
      // the pin's own figures, before the get adds its own
      const [p1, f1] = await Promise.all([childUsage(provider.child), childUsage(fetcher.child)])
      log(`small-files: pin peaks, fetcher ${JSON.stringify(f1.memoryPeaks)}, provider ${JSON.stringify(p1.memoryPeaks)}`)
      const g = await fetcher.child.request<{ ms: number }>('get', { cid, out: path.join(dir, 'get-copy') }, 600_000)
      const [f] = await Promise.all([fetcher.child.stop(), provider.child.stop()])
      const perFile = (a: number, b: number): string => ((b - a) * 1000 / options.smallFiles).toFixed(0)
      const note = `RSS: max of fetcher (${(f1.peakRssBytes / MiB).toFixed(0)} MiB) and provider (${(p1.peakRssBytes / MiB).toFixed(0)} MiB) at the end of the pin; CPU µs/file provider ${perFile(p0.cpuMs, p1.cpuMs)}, fetcher ${perFile(f0.cpuMs, f1.cpuMs)}`
      rows.push(withinLimit(compare(row('pin from a peer (directory)', p.ms, Math.max(f1.peakRssBytes, p1.peakRssBytes), note), base), 'rss', SMALL_FILES_RSS_LIMIT, RSS_LABEL))
      rows.push(withinLimit(compare(row('get of the pinned directory', g.ms, f.maxRssBytes), base), 'rss', SMALL_FILES_RSS_LIMIT, RSS_LABEL))
    } finally {
      fetcher.child.kill()
    }
  } finally {
    provider.child.kill()
  }
  if (options.bigFolder > 0) rows.push(...await bigFolderRows(ctx, ws))
  return rows
}

/**
 * One folder of `--big-folder` files (100,000 by default: a HAMT), added and then downloaded
 * (get) in fresh processes: peak RSS under 200 MiB each (the folder's links may be held while
 * it is built, the files' bytes never are).
 */
async function bigFolderRows (ctx: BenchContext, ws: ReturnType<typeof benchWorkspace>): Promise<Row[]> {
  const { options, dir, log } = ctx
  const n = options.bigFolder
  const src = path.join(dir, 'big-folder')
  log(`small-files: writing ${n} files of ${options.smallFileSize} bytes into one folder`)
  await writeSmallFiles(src, n, options.smallFileSize, 1)
  const row = (name: string, ms: number, peakRssBytes: number, note?: string): Row =>
    withinLimit({ script: 'small-files', name, bytes: n * options.smallFileSize, items: n, itemUnit: 'files', ms, peakRssBytes, note }, 'rss', SMALL_FILES_RSS_LIMIT, RSS_LABEL)
  const repo = path.join(dir, 'repo-big')
  const rows: Row[] = []
  log(`small-files: ${n} files in one folder: addDirectory`)
  let cid: string
  const a = await startNode(repo, ws, { cpuProfDir: options.cpuProf })
  try {
    const r = await a.child.request<{ ms: number, cid: string }>('addDirectory', { path: src, profile: 'kubo' }, 1_800_000)
    cid = r.cid
    const { maxRssBytes } = await a.child.stop()
    rows.push(row(`${n.toLocaleString('en-US')} files in one folder: addDirectory, peak RSS`, r.ms, maxRssBytes, r.cid))
  } finally {
    a.child.kill()
  }
  await fs.rm(src, { recursive: true, force: true })
  log(`small-files: ${n} files in one folder: get`)
  const out = path.join(dir, 'big-get')
  const g = await startNode(repo, ws, { cpuProfDir: options.cpuProf })
  try {
    const r = await g.child.request<{ ms: number }>('get', { cid, out }, 1_800_000)
    const { maxRssBytes } = await g.child.stop()
    rows.push(row(`${n.toLocaleString('en-US')} files in one folder: get, peak RSS`, r.ms, maxRssBytes))
  } finally {
    g.child.kill()
  }
  await fs.rm(out, { recursive: true, force: true })
  return rows
}
