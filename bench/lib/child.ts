/**
 * Runs one side of a benchmark in its own Node.js process (so its peak RSS is
 * its own) and talks to it over the IPC channel: `request(cmd, args)` resolves
 * with the worker's answer; `stop()` ends it and returns its peak RSS.
 */
import { fork, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const TS_ENTRY = fileURLToPath(new URL('../workers/entry.ts', import.meta.url))

/**
 * Where children load their code from: a transpiled copy of the repo (see
 * compile.ts; plain `node`, no loader) or, when unset, the TypeScript sources
 * through tsx.
 */
let compiledRoot: string | undefined

export function useCompiledChildren (root: string | undefined): void {
  compiledRoot = root
}

export interface ChildStopResult {
  /** Peak RSS of the child, in bytes: its VmHWM on Linux (ru_maxrss survives fork + exec, so it can be the parent's), else `process.resourceUsage().maxRSS`. */
  maxRssBytes: number
  /** VmHWM from /proc/<pid>/status read just before exit (Linux), in bytes. */
  vmHwmBytes?: number
  /** Peaks of `process.memoryUsage()` fields sampled every 50 ms, in bytes. */
  memoryPeaks?: { heapUsed: number, heapTotal: number, external: number, arrayBuffers: number }
}

export interface BenchChild {
  readonly pid: number
  readonly task: string
  request<T = unknown>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>
  stop(): Promise<ChildStopResult>
  kill(): void
}

export interface StartChildOptions {
  /** Write a V8 CPU profile of the child into this directory. */
  cpuProfDir?: string
}

interface Reply { id: number, ok: boolean, result?: unknown, error?: string }

/** Read VmHWM (peak RSS) of a live process from /proc, in bytes; undefined off Linux. */
export function readVmHwm (pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

function childExecArgv (): string[] {
  if (compiledRoot !== undefined) return []
  const argv = [...process.execArgv]
  if (!argv.some(a => a.includes('tsx'))) argv.push('--import', 'tsx')
  return argv
}

/** Start `bench/workers/<task>.ts` in a child process. */
export async function startChild (task: string, options: StartChildOptions = {}): Promise<BenchChild> {
  const execArgv = childExecArgv()
  const entry = compiledRoot === undefined ? TS_ENTRY : path.join(compiledRoot, 'bench', 'workers', 'entry.js')
  if (options.cpuProfDir !== undefined) {
    fs.mkdirSync(options.cpuProfDir, { recursive: true })
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${task}-${Date.now()}.cpuprofile`)
  }
  const child: ChildProcess = fork(entry, [task], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    cwd: compiledRoot ?? path.resolve(fileURLToPath(new URL('../..', import.meta.url)))
  })
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  let nextId = 1
  let exited = false
  const exitPromise = new Promise<void>(resolve => {
    child.once('exit', (code, signal) => {
      exited = true
      for (const p of pending.values()) p.reject(new Error(`bench worker "${task}" exited (code ${String(code)}, signal ${String(signal)})`))
      pending.clear()
      resolve()
    })
  })
  child.on('message', (msg: Reply) => {
    const p = pending.get(msg.id)
    if (p === undefined) return
    pending.delete(msg.id)
    if (msg.ok) p.resolve(msg.result)
    else p.reject(new Error(`bench worker "${task}": ${msg.error ?? 'failed'}`))
  })

  const request = async <T>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T> => {
    if (exited) throw new Error(`bench worker "${task}" is not running`)
    const id = nextId++
    return await new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          pending.delete(id)
          reject(Object.assign(new Error(`bench worker "${task}": ${cmd} timed out after ${timeoutMs} ms`), { code: 'ERR_TIMEOUT' }))
        }, timeoutMs)
      }
      pending.set(id, {
        resolve: v => { clearTimeout(timer); resolve(v as T) },
        reject: e => { clearTimeout(timer); reject(e) }
      })
      child.send({ id, cmd, args })
    })
  }

  await request('ready', undefined, 60_000)

  return {
    pid: child.pid ?? -1,
    task,
    request,
    async stop () {
      const vmHwmBytes = child.pid === undefined ? undefined : readVmHwm(child.pid)
      let maxRssBytes = 0
      let memoryPeaks: ChildStopResult['memoryPeaks']
      try {
        const r = await request<{ maxRssBytes: number, memoryPeaks: ChildStopResult['memoryPeaks'] }>('exit', undefined, 30_000)
        maxRssBytes = r.maxRssBytes
        memoryPeaks = r.memoryPeaks
      } catch {
        child.kill('SIGKILL')
      }
      await exitPromise
      // the child's own VmHWM (see workers/entry.ts); the one read here from outside if it could not answer
      return { maxRssBytes: maxRssBytes > 0 ? maxRssBytes : (vmHwmBytes ?? 0), vmHwmBytes, memoryPeaks }
    },
    kill () {
      if (!exited) child.kill('SIGKILL')
    }
  }
}
