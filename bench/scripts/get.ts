/**
 * get (to a file) and cat (bytes counted) from the local repo, each in a
 * freshly started node process, vs `cp` of the same file; stock Helia
 * (`@helia/unixfs` cat over blockstore-fs, the file added with Kubo's
 * options) doing the same in the same run. Target: >= 0.5x cp.
 *
 * Also the floor of a get with one file per block: the leaf block files of
 * the same repo read (sync open, read, close, no decode, no hash) and
 * written into one output file, nothing else.
 *
 * get and cat run again with the node's `hashOnRead: false` (Kubo's default: blocks read from
 * the node's own files are not hashed against their CIDs), informative: the verifying default
 * is what the target is about. Each get/cat row notes the CPU of its whole process (all threads)
 * per MiB, steadier than wall time on a loaded machine.
 *
 * Every measured run starts right after a file of the same size was written
 * and removed (`freshPages`): on this VM, page cache taken from memory that
 * sat free for a few seconds costs far more system time (the balloon's free
 * page reporting hands idle free memory back to the host), so a `cp` run
 * right after another one and a get in a node started seconds later were not
 * measured alike (the get's two leaf workers spent 440 + 400 ms of system
 * time, against 50 + 60 ms after such a write).
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { cp } from '../lib/baselines.js'
import { best, type BenchContext } from '../lib/context.js'
import { writeInputFile } from '../lib/files.js'
import { addInChild, benchWorkspace, heliaAddInChild, heliaReadInChild, readInChild, type ReadResult } from '../lib/node-ops.js'
import { compare, MiB, type Row } from '../lib/report.js'

export const GET_TARGET = 0.5

/** The block files under `dir` of at least `min` bytes (the leaves of a file of 256 KiB chunks). */
async function blockFiles (dir: string, min: number): Promise<string[]> {
  const out: string[] = []
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.data')) continue
    const file = path.join(e.parentPath, e.name)
    if ((await fs.stat(file)).size >= min) out.push(file)
  }
  return out
}

/** Reads every file (sync, one reused buffer) and writes them one after the other into `out`: ms. */
function readBlocksIntoOne (files: string[], out: string): number {
  const start = performance.now()
  const fd = openSync(out, 'w')
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024)
  let pos = 0
  try {
    for (const f of files) {
      const r = openSync(f, 'r')
      let n: number
      try { n = readSync(r, buf, 0, buf.byteLength, 0) } finally { closeSync(r) }
      for (let off = 0; off < n;) off += writeSync(fd, buf, off, n - off, pos + off)
      pos += n
    }
  } finally {
    closeSync(fd)
  }
  return performance.now() - start
}

/** Writes `bytes` of zeros to `file` (4 MiB writes) and removes it: the freed pages are what the next run's writes get. */
function freshPages (file: string, bytes: number): void {
  const buf = Buffer.alloc(4 * 1024 * 1024)
  const fd = openSync(file, 'w')
  try {
    for (let pos = 0; pos < bytes; pos += buf.byteLength) writeSync(fd, buf, 0, Math.min(buf.byteLength, bytes - pos), pos)
  } finally {
    closeSync(fd)
  }
  rmSync(file)
}

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
  const pages = path.join(dir, 'fresh-pages.bin')
  const fresh = async (): Promise<void> => { freshPages(pages, options.size) }
  for (let i = 0; i < 2; i++) {
    await fresh()
    cpTimes.push((await cp(file, cpOut)).ms)
    await fs.rm(cpOut, { force: true })
  }
  const base: Row = { script: 'get', name: 'cp (baseline)', bytes: options.size, ms: best(cpTimes) }
  const out = path.join(dir, 'get-out.bin')

  log('get: floor: the leaf block files read into one file')
  const leaves = await blockFiles(repo, 128 * 1024)
  const floorTimes: number[] = []
  for (let i = 0; i < 2; i++) {
    await fresh()
    floorTimes.push(readBlocksIntoOne(leaves, out))
    await fs.rm(out, { force: true })
  }
  const floor: Row = { script: 'get', name: `floor: ${leaves.length} block files read into one file`, bytes: options.size, ms: best(floorTimes) }
  const checkOut = async (): Promise<void> => {
    const st = await fs.stat(out)
    if (st.size !== options.size) throw new Error(`get wrote ${st.size} bytes, expected ${options.size}`)
    await fs.rm(out, { force: true })
  }

  log('get: stock Helia cat to a file, cat')
  const hg = await heliaReadInChild('get', heliaRepo, added.cid, out, options.cpuProf, fresh)
  await checkOut()
  const hc = await heliaReadInChild('cat', heliaRepo, added.cid, out, options.cpuProf, fresh)

  log('get: get to a file')
  const g = await readInChild('get', repo, ws, added.cid, out, options.cpuProf, fresh)
  await checkOut()

  log('get: cat')
  const c = await readInChild('cat', repo, ws, added.cid, out, options.cpuProf, fresh)

  log('get: get to a file and cat with hashOnRead: false')
  const gn = await readInChild('get', repo, ws, added.cid, out, options.cpuProf, fresh, { hashOnRead: false })
  await checkOut()
  const cn = await readInChild('cat', repo, ws, added.cid, out, options.cpuProf, fresh, { hashOnRead: false })
  const cpu = (r: ReadResult): string => `CPU ${(r.cpuMs / (options.size / MiB)).toFixed(2)} ms/MiB`
  const read = (name: string, r: ReadResult, target?: number): Row => compare({ script: 'get', name, bytes: options.size, ms: r.ms, peakRssBytes: r.peakRssBytes, note: cpu(r) }, base, target, target == null ? undefined : 'cp')
  return [
    base,
    compare(floor, base),
    compare({ script: 'get', name: 'stock Helia cat to a file', bytes: options.size, ms: hg.ms, peakRssBytes: hg.peakRssBytes }, base),
    read('get to file', g, GET_TARGET),
    compare({ script: 'get', name: 'stock Helia cat (bytes counted)', bytes: options.size, ms: hc.ms, peakRssBytes: hc.peakRssBytes }, base),
    read('cat (bytes counted)', c, GET_TARGET),
    read('get to file, hashOnRead: false', gn),
    read('cat, hashOnRead: false', cn)
  ]
}
