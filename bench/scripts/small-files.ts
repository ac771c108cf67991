/**
 * Many small files: N files of 4 KiB added one by one (addFile, pinned) in a
 * node process, files/s, vs `cp -r` of the same folder.
 */
import path from 'node:path'
import { cpRecursive } from '../lib/baselines.js'
import type { BenchContext } from '../lib/context.js'
import { writeSmallFiles } from '../lib/files.js'
import { benchWorkspace, startNode } from '../lib/node-ops.js'
import { compare, type Row } from '../lib/report.js'

export async function smallFilesBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const src = path.join(dir, 'files')
  log(`small-files: writing ${options.smallFiles} files of ${options.smallFileSize} bytes`)
  const files = await writeSmallFiles(src, options.smallFiles, options.smallFileSize)
  const bytes = options.smallFiles * options.smallFileSize

  const c = await cpRecursive(src, path.join(dir, 'cp-copy'))
  const base: Row = { script: 'small-files', name: 'cp -r (baseline)', bytes, items: files.length, itemUnit: 'files', ms: c.ms }

  log('small-files: adding')
  const n = await startNode(path.join(dir, 'repo'), benchWorkspace(), { cpuProfDir: options.cpuProf })
  try {
    const r = await n.child.request<{ ms: number }>('addFiles', { paths: files, profile: 'kubo' })
    const { maxRssBytes } = await n.child.stop()
    return [base, compare({ script: 'small-files', name: 'addFile each (kubo, pinned)', bytes, items: files.length, itemUnit: 'files', ms: r.ms, peakRssBytes: maxRssBytes }, base)]
  } finally {
    n.child.kill()
  }
}
