import type { BenchOptions } from './options.js'
import type { Row } from './report.js'

/** What every bench script receives. */
export interface BenchContext {
  options: BenchOptions
  /** A temp dir for this script, removed afterwards unless --keep. */
  dir: string
  /** Progress line on stderr. */
  log: (msg: string) => void
}

export type BenchScript = (ctx: BenchContext) => Promise<Row[]>

/** Best (lowest) time of several rounds. */
export function best (values: number[]): number {
  return Math.min(...values)
}

/** Median of values. */
export function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
