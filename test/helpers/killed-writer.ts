/**
 * Crash tests of the quota store: a writer script run as its own process (tsx, ESM), killed
 * with SIGKILL at some point of its write loop once it has printed `ready`.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/** Runs `script` with `env` added, waits for its `ready` line, lets it write 50-300 ms more, kills it with -9. */
export async function killWriterMidway (script: string, env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<NodeJS.Signals | null>(resolve => child.on('exit', (_code, signal) => { resolve(signal) }))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
    child.on('exit', () => { reject(new Error(`writer exited early: ${stderr}`)) })
  })
  // killed at some point of its write loop (the loop never waits for us)
  await new Promise(resolve => setTimeout(resolve, 50 + Math.random() * 250))
  child.kill('SIGKILL')
  expect(await exited).toBe('SIGKILL')
}
