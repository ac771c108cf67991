/**
 * The CLI as users run it: `bin/otherthing-storage.js` in a child process
 * (`LOG_LEVEL=warn` unless told otherwise), with its exit code, signal and
 * output; and a node runner in a temp folder for the commands to talk to.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startNodeRunner } from '../../src/runner/node-runner.js'
import type { NodeRunner } from '../../src/runner/node-runner.js'
import { generateSwarmKey } from '../../src/swarm-key/index.js'

export const BIN = fileURLToPath(new URL('../../bin/otherthing-storage.js', import.meta.url))

export interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

export interface RunBinOptions {
  /** Added to the environment. */
  env?: NodeJS.ProcessEnv
  /** The working directory (default: this process's). */
  cwd?: string
  /** Called with all stdout so far on each chunk, and a way to signal the process. */
  onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void
}

/** Runs the CLI with `args` until it exits. */
export async function runBin (args: string[], options: RunBinOptions = {}): Promise<Run> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...options.env },
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      options.onStdout?.(stdout, (s) => child.kill(s))
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.once('error', reject)
    child.once('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) })
  })
}

export interface TestRunner {
  /** The temp folder (storage under `<dir>/storage`, app data under `<dir>/app`); scratch files may go there too. */
  dir: string
  runner: NodeRunner
  /** `['--api', url, '--token', token]` for the CLI's content commands. */
  api: string[]
  /** Stops the runner, removes the folder. */
  close: () => Promise<void>
}

/** A node runner (64 MiB quota, API on a free port) that joined `workspace` with a fresh key. */
export async function startTestRunner (name: string, workspace: string): Promise<TestRunner> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-`))
  try {
    const runner = await startNodeRunner({
      storagePath: join(dir, 'storage'),
      appDataDir: join(dir, 'app'),
      quota: '64MiB',
      apiPort: 0,
      workspaces: [{ id: workspace, swarmKey: generateSwarmKey() }]
    })
    return {
      dir,
      runner,
      api: ['--api', runner.url, '--token', runner.token as string],
      close: async () => {
        await runner.stop()
        await rm(dir, { recursive: true, force: true })
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}
