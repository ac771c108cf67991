/**
 * Result rows, targets, the printed table and the JSON file. Pure functions
 * (no I/O) except `writeResults`.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

export const MiB = 1024 * 1024

/** One measured line of a table. */
export interface Row {
  /** Script that produced the row, e.g. `add`. */
  script: string
  /** What was measured, e.g. `add (kubo profile)` or `sha256sum (baseline)`. */
  name: string
  /** Bytes processed (for MiB/s). */
  bytes?: number
  /** Items processed (for items/s: files, blocks, pins, nodes). */
  items?: number
  /** Unit of `items` for display. @default 'items' */
  itemUnit?: string
  /** Wall time in milliseconds. */
  ms: number
  /** Throughput in MiB/s (computed from bytes and ms when absent). */
  mibPerSec?: number
  /** Items per second (computed from items and ms when absent). */
  itemsPerSec?: number
  /** This row's throughput divided by its baseline's. */
  ratio?: number
  /** Name of the baseline row the ratio refers to. */
  baseline?: string
  /** Peak resident set size of the process that did the work, in bytes. */
  peakRssBytes?: number
  /** Human-readable target, e.g. `>= 1.0x sha256sum`. */
  target?: string
  /** Whether the target was met (undefined when there is no target). */
  pass?: boolean
  /** Free text (stalls, CIDs, notes). */
  note?: string
}

/** Throughput in MiB/s of `bytes` processed in `ms` milliseconds. */
export function mibPerSec (bytes: number, ms: number): number {
  if (ms <= 0) return Infinity
  return (bytes / MiB) / (ms / 1000)
}

/** Items per second. */
export function perSec (items: number, ms: number): number {
  if (ms <= 0) return Infinity
  return items / (ms / 1000)
}

/** Fill in computed throughput fields. */
export function complete (row: Row): Row {
  const out = { ...row }
  if (out.mibPerSec === undefined && out.bytes !== undefined) out.mibPerSec = mibPerSec(out.bytes, out.ms)
  if (out.itemsPerSec === undefined && out.items !== undefined) out.itemsPerSec = perSec(out.items, out.ms)
  return out
}

/**
 * Ratio of a row's throughput to its baseline's (>1 means faster than the
 * baseline). Uses MiB/s when both have bytes, else items/s, else inverse time.
 */
export function ratioOf (row: Row, baseline: Row): number {
  const a = complete(row)
  const b = complete(baseline)
  if (a.mibPerSec !== undefined && b.mibPerSec !== undefined) return a.mibPerSec / b.mibPerSec
  if (a.itemsPerSec !== undefined && b.itemsPerSec !== undefined) return a.itemsPerSec / b.itemsPerSec
  return b.ms / a.ms
}

/** Set `ratio`, `baseline`, and (when `min` is given) `target`/`pass` on a row against a baseline. */
export function compare (row: Row, baseline: Row, min?: number, label = 'baseline'): Row {
  const ratio = ratioOf(row, baseline)
  const out: Row = { ...complete(row), ratio, baseline: baseline.name }
  if (min !== undefined) {
    out.target = `>= ${min.toFixed(2)}x ${label}`
    out.pass = ratio >= min
  }
  return out
}

/** Mark a row against an upper bound (peak RSS, time). */
export function withinLimit (row: Row, what: 'rss' | 'ms', limit: number, label: string): Row {
  const value = what === 'rss' ? row.peakRssBytes : row.ms
  const pass = value !== undefined && value < limit
  const target = row.target === undefined ? label : `${row.target}; ${label}`
  return { ...row, target, pass: row.pass === false ? false : pass }
}

function fmt (n: number | undefined, digits = 1): string {
  if (n === undefined || Number.isNaN(n)) return '-'
  if (!Number.isFinite(n)) return 'inf'
  return n.toFixed(digits)
}

/** Render rows as an aligned plain-text (also valid Markdown) table. */
export function formatTable (rows: Row[]): string {
  const header = ['script', 'measurement', 'size', 'time s', 'MiB/s', 'items/s', 'ratio', 'peak RSS MiB', 'target', 'ok', 'note']
  const lines = rows.map(r0 => {
    const r = complete(r0)
    return [
      r.script,
      r.name,
      r.bytes !== undefined ? `${fmt(r.bytes / MiB, r.bytes < 10 * MiB ? 2 : 0)} MiB` : (r.items !== undefined ? `${r.items} ${r.itemUnit ?? 'items'}` : '-'),
      fmt(r.ms / 1000, 2),
      fmt(r.mibPerSec),
      fmt(r.itemsPerSec, 0),
      r.ratio !== undefined ? `${fmt(r.ratio, 2)}x` : '-',
      r.peakRssBytes !== undefined ? fmt(r.peakRssBytes / MiB, 0) : '-',
      r.target ?? '',
      r.pass === undefined ? '' : (r.pass ? 'yes' : 'NO'),
      r.note ?? ''
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map(l => l[i].length)))
  const row = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [row(header), `|${widths.map(w => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n')
}

/** Everything a run records in bench/results/<timestamp>.json. */
export interface RunResult {
  startedAt: string
  finishedAt: string
  argv: string[]
  options: Record<string, unknown>
  machine: { cpus: number, cpuModel: string, totalMemBytes: number, node: string, platform: string }
  rows: Row[]
  errors: Array<{ script: string, error: string }>
}

export function machineInfo (): RunResult['machine'] {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemBytes: os.totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`
  }
}

/** Write the run to `<dir>/<timestamp>.json` and return the path. */
export async function writeResults (dir: string, result: RunResult): Promise<string> {
  await fs.mkdir(dir, { recursive: true })
  const file = path.join(dir, `${result.startedAt.replace(/[:.]/g, '-')}.json`)
  await fs.writeFile(file, JSON.stringify(result, null, 2) + '\n')
  return file
}
