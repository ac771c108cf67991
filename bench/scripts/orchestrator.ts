/**
 * Orchestrator: N simulated nodes (raw ws clients in another process doing
 * hello/auth, storage_report, ipfs_ready) connect, then M pins are placed and
 * confirmed. Target: 1,000 nodes + 10,000 pins in < 10 s and < 300 MiB.
 */
import path from 'node:path'
import { startChild } from '../lib/child.js'
import type { BenchContext } from '../lib/context.js'
import { MiB, type Row } from '../lib/report.js'

export const ORCH_TIME_LIMIT_MS = 10_000
export const ORCH_RSS_LIMIT = 300 * MiB
/** Members per workspace. */
const WORKSPACE_SIZE = 100
const REPLICATION = 2

export async function orchestratorBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const workspaces = Math.max(1, Math.ceil(options.nodes / WORKSPACE_SIZE))
  const replication = Math.min(REPLICATION, Math.max(1, Math.floor(options.nodes / workspaces)))
  const orch = await startChild('orchestrator', { cpuProfDir: options.cpuProf })
  const clients = await startChild('ws-clients')
  try {
    log(`orchestrator: ${options.nodes} nodes in ${workspaces} workspaces`)
    const { url, nodes } = await orch.request<{ url: string, nodes: Array<{ token: string, workspaceId: string }> }>('start', {
      databasePath: path.join(dir, 'orchestrator.db'), nodes: options.nodes, workspaces
    }, 120_000)
    await clients.request('prepare', { count: nodes.length }, 120_000)

    const start = performance.now()
    const ready = orch.request('waitReady', { count: nodes.length }, 120_000)
    await clients.request('connect', { url, nodes }, 120_000)
    await ready
    const connectMs = performance.now() - start

    log(`orchestrator: ${options.pins} pins x ${replication} copies`)
    const p = await orch.request<{ placedMs: number, confirmedMs: number, failed: number }>('pinMany', { pins: options.pins, replication }, 300_000)
    const totalMs = connectMs + p.confirmedMs
    const [o, c] = await Promise.all([orch.stop(), clients.stop()])
    const target = `< ${ORCH_TIME_LIMIT_MS / 1000} s and < ${ORCH_RSS_LIMIT / MiB} MiB`
    return [
      { script: 'orchestrator', name: `${nodes.length} nodes connect (hello/auth, ipfs_ready, bootstrap)`, items: nodes.length, itemUnit: 'nodes', ms: connectMs },
      { script: 'orchestrator', name: `${options.pins} pins placed (x${replication}) and confirmed`, items: options.pins, itemUnit: 'pins', ms: p.confirmedMs, note: `pin() calls ${p.placedMs.toFixed(0)} ms; failed ${p.failed}` },
      {
        script: 'orchestrator',
        name: 'total, orchestrator process',
        items: nodes.length,
        itemUnit: 'nodes',
        ms: totalMs,
        peakRssBytes: o.maxRssBytes,
        target,
        pass: totalMs < ORCH_TIME_LIMIT_MS && o.maxRssBytes < ORCH_RSS_LIMIT,
        note: `simulated-nodes process RSS ${(c.maxRssBytes / MiB).toFixed(0)} MiB`
      }
    ]
  } finally {
    orch.kill()
    clients.kill()
  }
}
