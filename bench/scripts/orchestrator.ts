import type { BenchContext } from '../lib/context.js'
import type { Row } from '../lib/report.js'

export async function orchestratorBench (_ctx: BenchContext): Promise<Row[]> {
  throw new Error('orchestrator bench: not written yet')
}
