/**
 * The runner's small new space (src/runner/process-memory.ts): set at run time, it stays at its
 * initial size however long the work, where V8's default doubles it. Each case runs in its own
 * node process (the flags are process-wide).
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const repoRoot = resolve(import.meta.dirname, '..')

/** The new space (MiB) when the work starts, and the largest seen while a child allocates with a steady share of survivors. */
async function newSpaceDuringWork (small: boolean): Promise<{ start: number, largest: number }> {
  const script = `
import v8 from 'node:v8'
import { keepNewSpaceSmall } from './src/runner/process-memory.ts'
if (${JSON.stringify(small)}) keepNewSpaceSmall()
const newSpace = () => v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space').space_size
// (tsx's loader ran before the flag, with V8's default: the start is where the new space is now)
const start = newSpace()
let largest = 0
let live = []
for (let round = 0; round < 60; round++) {
  for (let i = 0; i < 100000; i++) {
    live.push({ i })
    if (live.length > 30000) live = []
  }
  largest = Math.max(largest, newSpace())
  await new Promise(r => setTimeout(r, 1))
}
process.stdout.write(JSON.stringify({ start: start / 1048576, largest: largest / 1048576 }))
`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  expect(code, stderr).toBe(0)
  return JSON.parse(stdout)
}

describe('runner new space', () => {
  it("V8's default doubles the new space during the work (past 8 MiB); kept small it stays where it was", async () => {
    const [grown, small] = await Promise.all([newSpaceDuringWork(false), newSpaceDuringWork(true)])
    expect(grown.largest).toBeGreaterThan(8)
    expect(grown.largest).toBeGreaterThan(grown.start)
    expect(small.largest).toBeLessThanOrEqual(small.start)
  }, 60_000)
})
