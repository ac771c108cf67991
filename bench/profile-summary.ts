/**
 * Summarise V8 CPU profiles (from `npm run bench -- <script> --cpu-prof <dir>`):
 * top functions by self time, and self time per package / source folder.
 *
 *   npx tsx bench/profile-summary.ts <file-or-dir.cpuprofile> [--top 25]
 */
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, hitCount?: number, children?: number[] }
export interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples?: number[], timeDeltas?: number[] }

export interface SelfTime { key: string, ms: number, share: number }

/** Where a script URL belongs: `pkg:<name>` for node_modules, `src/...` / `bench/...` folders, `node:` internals, or `(native)`. */
export function bucketOf (url: string): string {
  if (url === '') return '(native/gc/idle)'
  if (url.startsWith('node:')) return 'node: internals'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return `pkg:${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`
  }
  const m = /\/(src|bench)\/(.*)\/[^/]+$/.exec(url)
  if (m !== null) return `${m[1]}/${m[2]}`
  return path.basename(url)
}

/** Self time per function and per bucket, in ms, largest first. */
export function summarise (profile: CpuProfile): { totalMs: number, functions: SelfTime[], buckets: SelfTime[] } {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const selfMs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) {
    const dt = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000
    selfMs.set(samples[i], (selfMs.get(samples[i]) ?? 0) + dt)
  }
  const totalMs = [...selfMs.values()].reduce((a, b) => a + b, 0)
  const fn = new Map<string, number>()
  const bucket = new Map<string, number>()
  for (const [id, ms] of selfMs) {
    const node = byId.get(id)
    if (node === undefined) continue
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName === '' ? '(anonymous)' : functionName} ${url === '' ? '' : `${bucketOf(url)}/${path.basename(url)}:${lineNumber + 1}`}`.trim()
    fn.set(key, (fn.get(key) ?? 0) + ms)
    const b = bucketOf(url)
    bucket.set(b, (bucket.get(b) ?? 0) + ms)
  }
  const sorted = (m: Map<string, number>): SelfTime[] => [...m.entries()].map(([key, ms]) => ({ key, ms, share: totalMs > 0 ? ms / totalMs : 0 })).sort((a, b) => b.ms - a.ms)
  return { totalMs, functions: sorted(fn), buckets: sorted(bucket) }
}

function main (): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
  const top = Number(values.top)
  const files = positionals.flatMap(p => fs.statSync(p).isDirectory()
    ? fs.readdirSync(p).filter(f => f.endsWith('.cpuprofile')).map(f => path.join(p, f))
    : [p])
  if (files.length === 0) {
    console.error('usage: tsx bench/profile-summary.ts <file-or-dir> [--top 25]')
    process.exitCode = 2
    return
  }
  for (const file of files) {
    const s = summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile)
    console.log(`\n== ${path.basename(file)}: ${(s.totalMs / 1000).toFixed(2)} s sampled`)
    console.log('-- self time by package/folder')
    for (const b of s.buckets.slice(0, 15)) console.log(`${(b.share * 100).toFixed(1).padStart(5)}%  ${b.ms.toFixed(0).padStart(7)} ms  ${b.key}`)
    console.log(`-- top ${top} functions by self time`)
    for (const f of s.functions.slice(0, top)) console.log(`${(f.share * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(7)} ms  ${f.key}`)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main()
