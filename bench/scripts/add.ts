/**
 * add (Kubo-compatible defaults and the CIDv1 profile) vs `sha256sum` of the
 * same file, and stock Helia (`@helia/unixfs` with Kubo's options, then its
 * pin) adding the same file in the same run. Target: add >= 1.0x sha256sum.
 */
import path from 'node:path'
import { sha256sum } from '../lib/baselines.js'
import { best, type BenchContext } from '../lib/context.js'
import { writeInputFile, removeDir } from '../lib/files.js'
import { addInChild, benchWorkspace, heliaAddInChild, type Profile } from '../lib/node-ops.js'
import { compare, type Row } from '../lib/report.js'

export const ADD_TARGET = 1.0

export async function addBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const file = await writeInputFile(ctx, 'add')
  const ws = benchWorkspace()

  const shaTimes: number[] = []
  for (let i = 0; i < 2; i++) shaTimes.push((await sha256sum(file)).ms)
  const base: Row = { script: 'add', name: 'sha256sum (baseline)', bytes: options.size, ms: best(shaTimes) }
  const rows: Row[] = [base]

  log('add: stock Helia (@helia/unixfs, Kubo options, + pin)')
  const heliaRepo = path.join(dir, 'repo-helia')
  const h = await heliaAddInChild(heliaRepo, file, options.cpuProf)
  rows.push(compare({ script: 'add', name: 'stock Helia add + pin (Kubo options)', bytes: options.size, ms: h.ms, peakRssBytes: h.peakRssBytes, note: h.cid }, base))
  // every repo is removed at the end, not before the next add: on ext4 a file created seconds after
  // thousands were deleted walks past their freed inodes (measured by wip/addfast: ~28% of the kubo
  // add's CPU in the kernel right after stock Helia's repo was removed), which no add of a user pays
  const repos = [heliaRepo]

  for (const profile of ['kubo', 'cidv1'] as Profile[]) {
    const repo = path.join(dir, `repo-${profile}`)
    log(`add: ${profile} profile`)
    const r = await addInChild(repo, ws, file, profile, options.cpuProf)
    if (profile === 'kubo' && r.cid !== h.cid) throw new Error(`kubo profile CID ${r.cid} differs from stock Helia's ${h.cid}`)
    rows.push(compare({
      script: 'add',
      name: `add (${profile} profile)`,
      bytes: options.size,
      ms: r.ms,
      peakRssBytes: r.peakRssBytes,
      note: r.cid
    }, base, ADD_TARGET, 'sha256sum'))
    repos.push(repo)
  }
  for (const repo of repos) await removeDir(repo)
  return rows
}
