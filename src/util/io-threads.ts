/**
 * The process's I/O threads: at most two worker threads (one per core, two cores at most) that
 * run synchronous fs calls in batches for whoever needs them: the small-file reads and block
 * writes of util/fs-worker.ts, and the leaves of a `get` or `cat` (node/export/leaf-worker.ts).
 *
 * One pool instead of one per use: before it, a `get` started the fs read worker to read the
 * root of the file and then two leaf workers for its leaves, three isolates booted one after
 * the other (~45 ms each on these 2 cores, before the first leaf was read), and a folder `get`
 * could hold four. Each user sends its own operations: an `IoOps` is the CommonJS source of one
 * function, sent to a thread with the first request that needs it (`ops[name] = (body) => ...`,
 * returning `[result, transferList]`).
 *
 * A thread stops after `idleMs` without work (its isolate holds 10-20 MiB) and starts again
 * for the next request; only a thread with requests in flight keeps the process alive.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { logger } from '@libp2p/logger'

const log = logger('otherthing:util:io-threads')

/** One operation a thread can run: its name and the CommonJS body that defines `ops[name]`. */
export interface IoOps {
  readonly name: string
  /** Run with `require` and `ops` in scope; sets `ops[name] = (body) => [result, transfer]`. */
  readonly source: string
}

/**
 * Young generation of a thread, MiB. Its garbage is a few small objects per request (the
 * request, its result, path strings); V8's default young generation (16 MiB semi-spaces) let
 * each of two fs threads grow by tens of MiB during a 100,000-file folder add.
 */
const YOUNG_MB = 4

// CommonJS run with `eval: true`: no file to resolve under tsx, vitest or compiled JS alike
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads')
const ops = Object.create(null)
parentPort.on('message', (m) => {
  if (m.load != null) { new Function('require', 'ops', m.load)(require, ops); return }
  try {
    const [result, transfer] = ops[m.op](m.body)
    parentPort.postMessage({ id: m.id, result }, transfer ?? [])
  } catch (e) {
    parentPort.postMessage({ id: m.id, failed: { message: String(e && e.message), code: e && e.code } })
  }
})
`

interface Pending { resolve: (r: unknown) => void, reject: (err: Error) => void }

/** How long a thread stays without work before it stops. */
let idleMs = 10_000

export class IoThread {
  private readonly worker: Worker
  private readonly pending = new Map<number, Pending>()
  private readonly loaded = new Set<string>()
  private nextId = 0
  private idle?: NodeJS.Timeout
  private retired = false
  dead?: Error
  /** The thread runs (booting one takes 30-90 ms on these 2 cores; requests sent before wait for it). */
  online = false

  constructor () {
    // no inherited execArgv: a parent run with `--input-type=module` would make the CommonJS source ESM
    this.worker = new Worker(THREAD_SOURCE, { eval: true, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } })
    this.worker.once('online', () => { this.online = true })
    this.worker.on('message', (m: { id: number, result?: unknown, failed?: { message: string, code?: string } }) => {
      const p = this.pending.get(m.id)
      this.pending.delete(m.id)
      if (this.pending.size === 0) this.rest()
      if (m.failed != null) {
        const err: NodeJS.ErrnoException = new Error(`I/O thread operation failed: ${m.failed.message}`)
        err.code = m.failed.code
        p?.reject(err)
      } else {
        p?.resolve(m.result)
      }
    })
    const fail = (err: Error): void => {
      this.dead ??= err
      if (this.retired) return
      log.error('I/O thread stopped: %e', err)
      for (const p of this.pending.values()) p.reject(err)
      this.pending.clear()
    }
    this.worker.on('error', fail)
    this.worker.on('exit', () => { fail(new Error('I/O thread exited')) })
    this.rest()
  }

  /** Requests in flight. */
  get busy (): number {
    return this.pending.size
  }

  /** No work: the process may exit, and the thread stops once idle for `idleMs`. */
  private rest (): void {
    this.worker.unref()
    clearTimeout(this.idle)
    this.idle = setTimeout(() => {
      if (this.pending.size > 0 || this.dead != null) return
      this.retired = true
      this.dead = new Error('I/O thread stopped when idle')
      void this.worker.terminate()
    }, idleMs)
    this.idle.unref()
  }

  /** Runs `ops` on `body` there (the ArrayBuffers in `transfer` move with it); resolves its result. */
  async run<T> (ops: IoOps, body: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead != null) throw this.dead
    clearTimeout(this.idle)
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject })
      this.worker.ref()
      try {
        if (!this.loaded.has(ops.name)) {
          this.worker.postMessage({ load: ops.source })
          this.loaded.add(ops.name)
        }
        this.worker.postMessage({ id, op: ops.name, body }, transfer)
      } catch (err) {
        this.pending.delete(id)
        if (this.pending.size === 0) this.rest()
        reject(err as Error)
      }
    })
  }
}

const slots: Array<IoThread | undefined> = []
let failed = false

/** Threads the pool holds at most: one per core, two at most. */
export function ioThreadCount (): number {
  return Math.min(2, availableParallelism())
}

/** The live thread in slot `i` (started if it stopped), or undefined when no thread can start. */
function slot (i: number): IoThread | undefined {
  const t = slots[i]
  if (t != null && t.dead == null) return t
  if (failed) return undefined
  try {
    const fresh = new IoThread()
    slots[i] = fresh
    return fresh
  } catch (err) {
    log.error('cannot start an I/O thread, using async fs calls: %e', err)
    failed = true
    return undefined
  }
}

/**
 * The thread for a role that wants a thread of its own when there are two (`index` modulo the
 * pool's size: util/fs-worker.ts reads on 0 and writes on 1), or undefined when none can run.
 */
export function ioThreadAt (index: number): IoThread | undefined {
  return slot(index % ioThreadCount())
}

/**
 * How much busier a thread that is still booting counts than one that runs: booting takes
 * 30-90 ms here (more under load), a batch of leaves 5-15 ms, so work sent to a booting thread
 * waits while a running one could have done several. A cold 256 MiB `get` had two of its four
 * batches in flight queued on a thread that came up 115 ms after the other.
 */
const BOOTING_WEIGHT = 4

/**
 * The least busy thread: an idle one, else a slot not started yet, else the one with the
 * fewest requests in flight (a booting thread counted BOOTING_WEIGHT busier). Undefined when
 * none can run.
 */
export function leastBusyIoThread (): IoThread | undefined {
  const n = ioThreadCount()
  let best: IoThread | undefined
  let bestLoad = Infinity
  for (let i = 0; i < n; i++) {
    const t = slots[i]
    if (t == null || t.dead != null) {
      if (best == null || bestLoad > 0) return slot(i) ?? best
      continue
    }
    const load = t.busy + (t.online ? 0 : BOOTING_WEIGHT)
    if (load < bestLoad) {
      best = t
      bestLoad = load
    }
  }
  return best
}

/**
 * Starts every thread of the pool that is not running, so that they boot at once, in
 * parallel with what the caller does first (a `get` reads its root and inner nodes meanwhile).
 */
export function startIoThreads (): void {
  for (let i = 0; i < ioThreadCount(); i++) slot(i)
}

/** Whether the thread for `index` (as `ioThreadAt`) has booted; starts it when it is not running. */
export function ioThreadOnlineAt (index: number): boolean {
  return slot(index % ioThreadCount())?.online === true
}

/** Threads running now (diagnostics and tests). */
export function runningIoThreads (): number {
  return slots.filter(t => t != null && t.dead == null).length
}

/** Whether no thread can start in this process (the callers use async fs calls). */
export function ioThreadsUnavailable (): boolean {
  return failed
}

/** How long an idle thread is kept (default 10 s; tests shorten it); counted from each thread's next rest. */
export function setIoThreadIdleTime (ms: number): void {
  idleMs = ms
}
