/**
 * Entry of a bench child process: `entry.ts <task>` loads `./<task>.ts`, whose
 * `handlers` answer the parent's requests. `exit` reports the peak RSS and
 * ends the process (after the task's `stop` handler, if any).
 */
import { readFileSync } from 'node:fs'
import '../../src/polyfill.js'
import type * as ProcessMemory from '../../src/runner/process-memory.js'

export type Handler = (args: any) => Promise<unknown> | unknown
export type Handlers = Record<string, Handler>

interface Request { id: number, cmd: string, args?: unknown }

/** Peaks of process.memoryUsage() fields, sampled every 50 ms: where the RSS goes. */
const peaks = { heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 }
setInterval(() => {
  const m = process.memoryUsage()
  for (const k of Object.keys(peaks) as Array<keyof typeof peaks>) peaks[k] = Math.max(peaks[k], m[k])
}, 50).unref()

const task = process.argv[2]
if (task === undefined || !/^[a-z-]+$/.test(task)) {
  console.error('usage: entry.ts <task>')
  process.exit(2)
}

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
// a storage node child stands for our runner process: the V8 settings its entry applies (bin/);
// BENCH_RUNNER_FLAGS=0 leaves them out (to measure what they change)
if (task === 'node' && process.env.BENCH_RUNNER_FLAGS !== '0') (await import(`../../src/runner/process-memory${ext}`) as typeof ProcessMemory).keepNewSpaceSmall()
const mod = await import(`./${task}${ext}`) as { handlers: Handlers }
const handlers = mod.handlers

function reply (msg: { id: number, ok: boolean, result?: unknown, error?: string }): Promise<void> {
  return new Promise(resolve => process.send?.(msg, undefined, undefined, () => resolve()))
}

process.on('message', (req: Request) => {
  void (async () => {
    try {
      if (req.cmd === 'ready') {
        await reply({ id: req.id, ok: true, result: { pid: process.pid } })
        return
      }
      if (req.cmd === 'usage') {
        // user + system CPU of this process so far (all its threads), microseconds, and its peak RSS so far
        const u = process.cpuUsage()
        await reply({ id: req.id, ok: true, result: { cpuMicros: u.user + u.system, peakRssBytes: ownPeakRssBytes() ?? process.resourceUsage().maxRSS * 1024, memoryPeaks: peaks } })
        return
      }
      if (req.cmd === 'exit') {
        if (handlers.stop !== undefined) await handlers.stop(undefined)
        // Linux keeps ru_maxrss across fork + exec: a child of a big bench parent would report the
        // parent's peak. VmHWM belongs to this process's own memory; maxRSS only where /proc is missing.
        const maxRssBytes = ownPeakRssBytes() ?? process.resourceUsage().maxRSS * 1024
        await reply({ id: req.id, ok: true, result: { maxRssBytes, memoryPeaks: peaks } })
        process.disconnect()
        // let the CPU profile (if any) be written by a normal exit
        setTimeout(() => process.exit(0), 50).unref()
        return
      }
      const handler = handlers[req.cmd]
      if (handler === undefined) throw new Error(`unknown command ${req.cmd} for task ${task}`)
      const result = await handler(req.args)
      await reply({ id: req.id, ok: true, result })
    } catch (err: any) {
      await reply({ id: req.id, ok: false, error: `${err?.name ?? 'Error'}${err?.code !== undefined ? ` [${String(err.code)}]` : ''}: ${err?.message ?? String(err)}` })
    }
  })()
})

/** This process's own peak RSS (VmHWM), in bytes; undefined off Linux. */
function ownPeakRssBytes (): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}
