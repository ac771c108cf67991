/**
 * Orchestrator on PostgreSQL: three instances (child processes) on one
 * throw-away PostgreSQL 15, N simulated nodes spread over them, M pins
 * placed (the pin() calls spread over the three, placement on the lease
 * holder) and confirmed; beside one SQLite process with the same load.
 * Target (issue #14, at 10,000 nodes and 100,000 pins): the three instances
 * place at least 2x the pins per second of the SQLite process, each < 300 MiB.
 */
import path from 'node:path'
import { startChild } from '../lib/child.js'
import type { BenchContext } from '../lib/context.js'
import { MiB, type Row } from '../lib/report.js'
import { postgresUnavailable, startPostgres } from '../../test/helpers/postgres.js'

const WORKSPACE_SIZE = 100
const REPLICATION = 2
const INSTANCES = 3
/** pin() calls in flight per instance. */
const CONCURRENCY = 8
const RSS_LIMIT = 300 * MiB

interface Counts { pinned: number, ready: number, failed: number, leader: boolean }

async function run (ctx: BenchContext, engine: 'sqlite' | 'postgres', database: string): Promise<{ ms: number, connectMs: number, rss: number[], clientsRss: number, failed: number }> {
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
    const t1 = performance.now()
    await Promise.all(instances.map(async (c, i) => await c.request('pinShare', { pins: options.pins, replication: REPLICATION, offset: i, stride: count, concurrency: CONCURRENCY }, 1_800_000)))
    await waitFor('pinned', before + options.pins * REPLICATION, 1_800_000)
    const ms = performance.now() - t1
    const failed = (await sum()).failed
    const stopped = await Promise.all(instances.map(async c => await c.stop()))
    const cs = await clients.stop()
    return { ms, connectMs, rss: stopped.map(s => s.maxRssBytes), clientsRss: cs.maxRssBytes, failed }
  } finally {
    for (const c of instances) c.kill()
    clients.kill()
  }
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
  const server = await startPostgres()
  let pgRun
  try {
    log(`orchestrator-pg: PostgreSQL, ${INSTANCES} instances: same load`)
    pgRun = await run(ctx, 'postgres', await server.createDatabase('bench'))
  } finally {
    await server.stop()
  }
  const rate = (r: { ms: number }): number => options.pins / (r.ms / 1000)
  const ratio = rate(pgRun) / rate(lite)
  const maxRss = Math.max(...pgRun.rss)
  return [
    { script: 'orchestrator-pg', name: `SQLite, 1 process: ${options.pins} pins (x${REPLICATION}) placed and confirmed, ${options.nodes} nodes`, items: options.pins, itemUnit: 'pins', ms: lite.ms, peakRssBytes: lite.rss[0], note: `connect ${lite.connectMs.toFixed(0)} ms; failed ${lite.failed}` },
    {
      script: 'orchestrator-pg',
      name: `PostgreSQL, ${INSTANCES} instances: same load`,
      items: options.pins,
      itemUnit: 'pins',
      ms: pgRun.ms,
      peakRssBytes: maxRss,
      target: '>= 2x the SQLite pins/s, each instance < 300 MiB',
      pass: ratio >= 2 && maxRss < RSS_LIMIT,
      note: `${ratio.toFixed(2)}x SQLite; RSS per instance ${pgRun.rss.map(r => (r / MiB).toFixed(0)).join(' / ')} MiB; connect ${pgRun.connectMs.toFixed(0)} ms; failed ${pgRun.failed}`
    }
  ]
}
