/**
 * The runner's new-space cap (src/runner/process-memory.ts): after start-up V8 may grow its new
 * space again, but only up to the cap, however long the work. Each case runs in its own node
 * process (the flags are process-wide).
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const repoRoot = resolve(import.meta.dirname, '..')

/** Largest new space (MiB) seen while a child allocates with a steady share of survivors. */
async function largestNewSpace (cap: number | undefined): Promise<number> {
  const script = `
import v8 from 'node:v8'
import { keepNewSpaceSmall, letNewSpaceGrow } from './src/runner/process-memory.ts'
keepNewSpaceSmall()
const cap = ${JSON.stringify(cap ?? null)}
if (cap == null) v8.setFlagsFromString('--semi-space-growth-factor=2')
else letNewSpaceGrow({ maxMb: cap, checkMs: 5 })
const newSpace = () => v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space').space_size
let largest = 0
let live = []
for (let round = 0; round < 60; round++) {
  for (let i = 0; i < 100000; i++) {
    live.push({ i })
    if (live.length > 30000) live = []
  }
  largest = Math.max(largest, newSpace())
  // a turn of the event loop: the cap's timer runs
  await new Promise(r => setTimeout(r, 10))
}
process.stdout.write(String(largest / 1048576))
`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  expect(code, stderr).toBe(0)
  return Number(stdout)
}

describe('runner new space', () => {
  it('without the cap the work doubles the new space past 8 MiB; with a 4 MiB cap it stays at 4', async () => {
    const [uncapped, capped] = await Promise.all([largestNewSpace(undefined), largestNewSpace(4)])
    expect(uncapped).toBeGreaterThan(8)
    expect(capped).toBeLessThanOrEqual(4)
    expect(capped).toBeGreaterThanOrEqual(2)
  }, 60_000)
})
