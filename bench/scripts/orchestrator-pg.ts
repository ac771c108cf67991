/**
 * Orchestrator on PostgreSQL: three instances (child processes) on one
 * throw-away PostgreSQL 15, N simulated nodes spread over them, M pins
 * placed (the pin() calls spread over the three, placement on the lease
 * holder) and confirmed; beside one SQLite process with the same load.
 * Target (issue #14, at 10,000 nodes and 100,000 pins): the three instances
 * place at least 2x the pins per second of the SQLite process, each < 300 MiB.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { startChild } from '../lib/child.js'
import type { BenchContext } from '../lib/context.js'
import { MiB, type Row } from '../lib/report.js'
import { postgresUnavailable, sql, startPostgres } from '../../test/helpers/postgres.js'

const WORKSPACE_SIZE = 100
const REPLICATION = 2
const INSTANCES = 3
/** pin() calls in flight per instance. */
const CONCURRENCY = 8
const RSS_LIMIT = 300 * MiB

interface Counts { pinned: number, ready: number, failed: number, leader: boolean }

/** CPU ms (user + system) of the PostgreSQL server whose data dir is `dataDir`: its postmaster and every backend it forked. */
export function serverCpuMs (dataDir: string): number {
  const postmaster = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  const tick = 10 // USER_HZ = 100 on Linux
  let ticks = 0
  for (const pid of readdirSync('/proc').filter(d => /^\d+$/.test(d))) {
    try {
      // fields after "(comm) ": state ppid ... utime (14th field overall) stime (15th)
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      if (Number(pid) === postmaster || Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12])
    } catch {
      // a backend that ended meanwhile
    }
  }
  return ticks * tick
}

interface RunResult {
  ms: number
  connectMs: number
  rss: number[]
  /** Peak V8 heap in use per instance (of the 50 ms samples). */
  heap: number[]
  /** Peak memory outside the V8 heap per instance (`external`, same samples). */
  external: number[]
  clientsRss: number
  failed: number
  /** CPU ms during the pin phase: each instance, the simulated nodes, the PostgreSQL server (0 on SQLite). */
  cpu: { instances: number[], clients: number, server: number }
}

async function run (ctx: BenchContext, engine: 'sqlite' | 'postgres', database: string, serverCpu: () => number = () => 0): Promise<RunResult> {
  const { options } = ctx
  const workspaces = Math.max(1, Math.ceil(options.nodes / WORKSPACE_SIZE))
  const count = engine === 'postgres' ? INSTANCES : 1
  const instances: Array<Awaited<ReturnType<typeof startChild>>> = []
  for (let i = 0; i < count; i++) instances.push(await startChild('orchestrator', { cpuProfDir: options.cpuProf }))
  const clients = await startChild('ws-clients', { cpuProfDir: options.cpuProf })
  try {
    const dbArgs = engine === 'postgres' ? { database } : { databasePath: database }
    const first = await instances[0].request<{ url: string, nodes: Array<{ token: string }> }>('start', { ...dbArgs, instanceId: 'bench-0', nodes: options.nodes, workspaces }, 600_000)
    const urls = [first.url]
    for (let i = 1; i < count; i++) {
      urls.push((await instances[i].request<{ url: string }>('start', { ...dbArgs, instanceId: `bench-${i}`, create: false, nodes: 0, workspaces }, 120_000)).url)
    }
    await clients.request('prepare', { count: first.nodes.length }, 600_000)
    const sum = async (): Promise<Counts> => {
      const all = await Promise.all(instances.map(async c => await c.request<Counts>('counts', {}, 60_000)))
      return all.reduce((a, b) => ({ pinned: a.pinned + b.pinned, ready: a.ready + b.ready, failed: a.failed + b.failed, leader: a.leader || b.leader }))
    }
    const waitFor = async (key: 'ready' | 'pinned', n: number, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs
      while ((await sum())[key] < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} ${key}`)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
    const t0 = performance.now()
    await clients.request('connect', { urls, nodes: first.nodes }, 600_000)
    await waitFor('ready', first.nodes.length, 600_000)
    const connectMs = performance.now() - t0

    const before = (await sum()).pinned
    const cpuNow = async (): Promise<{ instances: number[], clients: number, server: number }> => ({
      instances: await Promise.all(instances.map(async c => (await c.request<{ ms: number }>('cpu', {}, 60_000)).ms)),
      clients: (await clients.request<{ ms: number }>('cpu', {}, 60_000)).ms,
      server: serverCpu()
    })
    // --pg-statements: the statements of the pin phase only
    if (options.pgStatements && engine === 'postgres') await sql(database, 'SELECT pg_stat_statements_reset()')
    const cpu0 = await cpuNow()
    const t1 = performance.now()
    await Promise.all(instances.map(async (c, i) => await c.request('pinShare', { pins: options.pins, replication: REPLICATION, offset: i, stride: count, concurrency: CONCURRENCY }, 1_800_000)))
    await waitFor('pinned', before + options.pins * REPLICATION, 1_800_000)
    const ms = performance.now() - t1
    const cpu1 = await cpuNow()
    const peaks = await Promise.all(instances.map(async c => await c.request<{ heapPeak: number, externalPeak: number }>('cpu', {}, 60_000)))
    const heap = peaks.map(p => p.heapPeak)
    const external = peaks.map(p => p.externalPeak)
    const cpu = { instances: cpu1.instances.map((v, i) => v - cpu0.instances[i]), clients: cpu1.clients - cpu0.clients, server: cpu1.server - cpu0.server }
    const failed = (await sum()).failed
    const stopped = await Promise.all(instances.map(async c => await c.stop()))
    const cs = await clients.stop()
    return { ms, connectMs, rss: stopped.map(s => s.maxRssBytes), heap, external, clientsRss: cs.maxRssBytes, failed, cpu }
  } finally {
    for (const c of instances) c.kill()
    clients.kill()
  }
}

/** The pin phase's statements by calls: calls, execution ms (wall, lock waits included), rows, shared buffers per call. */
async function logStatements (database: string, log: (line: string) => void): Promise<void> {
  const rows = await sql<{ calls: string, ms: string, rows: string, buffers: string, query: string }>(database, `SELECT calls, round(total_exec_time)::text AS ms, rows,
      (shared_blks_hit + shared_blks_read) / calls AS buffers, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) AS query
    FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC LIMIT 30`)
  log('orchestrator-pg: statements of the pin phase (calls, exec ms, rows, buffers/call, statement)')
  for (const r of rows) log(`  ${r.calls}\t${r.ms}\t${r.rows}\t${r.buffers}\t${r.query}`)
}

export async function orchestratorPgBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const unavailable = postgresUnavailable()
  if (unavailable != null) {
    log(`orchestrator-pg: ${unavailable}`)
    return []
  }
  log(`orchestrator-pg: SQLite, one process: ${options.nodes} nodes, ${options.pins} pins x${REPLICATION}`)
  const lite = await run(ctx, 'sqlite', path.join(dir, 'orchestrator-pg-baseline.db'))
  const server = await startPostgres({ statementStats: options.pgStatements })
  let pgRun
  try {
    log(`orchestrator-pg: PostgreSQL, ${INSTANCES} instances: same load`)
    const database = await server.createDatabase('bench')
    if (options.pgStatements) await sql(database, 'CREATE EXTENSION pg_stat_statements')
    pgRun = await run(ctx, 'postgres', database, () => serverCpuMs(path.join(server.dir, 'data')))
    if (options.pgStatements) await logStatements(database, log)
  } finally {
    await server.stop()
  }
  const rate = (r: { ms: number }): number => options.pins / (r.ms / 1000)
  const ratio = rate(pgRun) / rate(lite)
  const maxRss = Math.max(...pgRun.rss)
  /** CPU ms per pin: the orchestrator process(es), and the PostgreSQL server. */
  const perPin = (r: RunResult): string => {
    const orch = r.cpu.instances.reduce((a, b) => a + b, 0) / options.pins
    return `CPU/pin ${orch.toFixed(3)} ms orchestrator${r.cpu.instances.length > 1 ? ` (${r.cpu.instances.map(v => (v / 1000).toFixed(1)).join(' + ')} s)` : ''}` +
      (r.cpu.server > 0 ? ` + ${(r.cpu.server / options.pins).toFixed(3)} ms server` : '') + ` + ${(r.cpu.clients / options.pins).toFixed(3)} ms sim nodes`
  }
  const heaps = (r: RunResult): string => `heap peak ${r.heap.map(h => (h / MiB).toFixed(0)).join(' / ')} MiB, external peak ${r.external.map(h => (h / MiB).toFixed(0)).join(' / ')} MiB`
  return [
    { script: 'orchestrator-pg', name: `SQLite, 1 process: ${options.pins} pins (x${REPLICATION}) placed and confirmed, ${options.nodes} nodes`, items: options.pins, itemUnit: 'pins', ms: lite.ms, peakRssBytes: lite.rss[0], note: `connect ${lite.connectMs.toFixed(0)} ms; failed ${lite.failed}; ${perPin(lite)}; ${heaps(lite)}` },
    {
      script: 'orchestrator-pg',
      name: `PostgreSQL, ${INSTANCES} instances: same load`,
      items: options.pins,
      itemUnit: 'pins',
      ms: pgRun.ms,
      peakRssBytes: maxRss,
      target: '>= 2x the SQLite pins/s, each instance < 300 MiB',
      pass: ratio >= 2 && maxRss < RSS_LIMIT,
      note: `${ratio.toFixed(2)}x SQLite; RSS per instance ${pgRun.rss.map(r => (r / MiB).toFixed(0)).join(' / ')} MiB; connect ${pgRun.connectMs.toFixed(0)} ms; failed ${pgRun.failed}; ${perPin(pgRun)}; ${heaps(pgRun)}`
    }
  ]
}
