/**
 * get (to a file) and cat (bytes counted) from the local repo, each in a
 * freshly started node process, vs `cp` of the same file; stock Helia
 * (`@helia/unixfs` cat over blockstore-fs, the file added with Kubo's
 * options) doing the same in the same run. Target: >= 0.5x cp.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { cp } from '../lib/baselines.js'
import { best, type BenchContext } from '../lib/context.js'
import { writeInputFile } from '../lib/files.js'
import { addInChild, benchWorkspace, heliaAddInChild, heliaReadInChild, readInChild } from '../lib/node-ops.js'
import { compare, type Row } from '../lib/report.js'

export const GET_TARGET = 0.5

export async function getBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const file = await writeInputFile(ctx, 'get')
  const ws = benchWorkspace()
  const repo = path.join(dir, 'repo')
  const heliaRepo = path.join(dir, 'repo-helia')
  log('get: adding the file (kubo profile; and with stock Helia)')
  const added = await addInChild(repo, ws, file, 'kubo')
  await heliaAddInChild(heliaRepo, file)

  const cpTimes: number[] = []
  const cpOut = path.join(dir, 'cp-out.bin')
  for (let i = 0; i < 2; i++) {
    cpTimes.push((await cp(file, cpOut)).ms)
    await fs.rm(cpOut, { force: true })
  }
  const base: Row = { script: 'get', name: 'cp (baseline)', bytes: options.size, ms: best(cpTimes) }
  const out = path.join(dir, 'get-out.bin')
  const checkOut = async (): Promise<void> => {
    const st = await fs.stat(out)
    if (st.size !== options.size) throw new Error(`get wrote ${st.size} bytes, expected ${options.size}`)
    await fs.rm(out, { force: true })
  }

  log('get: stock Helia cat to a file, cat')
  const hg = await heliaReadInChild('get', heliaRepo, added.cid, out, options.cpuProf)
  await checkOut()
  const hc = await heliaReadInChild('cat', heliaRepo, added.cid, out, options.cpuProf)

  log('get: get to a file')
  const g = await readInChild('get', repo, ws, added.cid, out, options.cpuProf)
  await checkOut()

  log('get: cat')
  const c = await readInChild('cat', repo, ws, added.cid, out, options.cpuProf)
  return [
    base,
    compare({ script: 'get', name: 'stock Helia cat to a file', bytes: options.size, ms: hg.ms, peakRssBytes: hg.peakRssBytes }, base),
    compare({ script: 'get', name: 'get to file', bytes: options.size, ms: g.ms, peakRssBytes: g.peakRssBytes }, base, GET_TARGET, 'cp'),
    compare({ script: 'get', name: 'stock Helia cat (bytes counted)', bytes: options.size, ms: hc.ms, peakRssBytes: hc.peakRssBytes }, base),
    compare({ script: 'get', name: 'cat (bytes counted)', bytes: options.size, ms: c.ms, peakRssBytes: c.peakRssBytes }, base, GET_TARGET, 'cp')
  ]
}
