/**
 * The orchestrator in its own process (for its peak RSS): a SQLite file in
 * the bench's temp dir (or a PostgreSQL URL, one of several instances),
 * WebSocket server on 127.0.0.1.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createOrchestrator } from '../../src/orchestrator/index.js'
import { isRelayedEvent } from '../../src/orchestrator/cluster/event-relay.js'
import type { Orchestrator, OrchestratorEvent } from '../../src/orchestrator/index.js'
import type { Handlers } from './entry.js'

let orch: Orchestrator | undefined
/** Peak V8 heap in use, sampled every 50 ms (the entry's own peaks come with `exit`, which can time out on a busy instance). */
let heapPeak = 0
/** Peak of what lives outside the V8 heap (Buffers, sockets' buffers: `external`), same samples. */
let externalPeak = 0
setInterval(() => {
  const m = process.memoryUsage()
  heapPeak = Math.max(heapPeak, m.heapUsed)
  externalPeak = Math.max(externalPeak, m.external)
}, 50).unref()
let workspaceIds: string[] = []
const counters = { ready: 0, pinned: 0, failed: 0 }
const waiters: Array<{ key: 'ready' | 'pinned', count: number, resolve: () => void }> = []

function onEvent (e: OrchestratorEvent): void {
  // each instance also hears the others' events (the event relay): count only this instance's own, so that the
  // sum over the instances is the cluster's count (with the relayed ones it was up to 3x, ending the wait early)
  if (isRelayedEvent(e)) return
  if (e.type === 'peer:ready') counters.ready++
  else if (e.type === 'allocation' && e.state === 'pinned') counters.pinned++
  else if (e.type === 'allocation' && e.state === 'failed') counters.failed++
  for (let i = waiters.length - 1; i >= 0; i--) {
    const w = waiters[i]
    if (counters[w.key] >= w.count) {
      waiters.splice(i, 1)
      w.resolve()
    }
  }
}

async function until (key: 'ready' | 'pinned', count: number): Promise<void> {
  if (counters[key] >= count) return
  await new Promise<void>(resolve => waiters.push({ key, count, resolve }))
}

export const handlers: Handlers = {
  async start (args: { databasePath?: string, database?: string, instanceId?: string, create?: boolean, nodes: number, workspaces: number }) {
    orch = createOrchestrator({
      ...(args.database != null ? { database: args.database, instanceId: args.instanceId } : { databasePath: args.databasePath }),
      host: '127.0.0.1',
      port: 0
    })
    const { url } = await orch.start()
    orch.onChange(onEvent)
    workspaceIds = []
    if (args.create === false) {
      workspaceIds = (await orch.listWorkspaces()).map(w => w.id)
      return { url, nodes: [], leader: orch.isLeader }
    }
    for (let w = 0; w < args.workspaces; w++) workspaceIds.push((await orch.createWorkspace({ name: `bench ${w}` })).id)
    const nodes: Array<{ token: string, workspaceId: string }> = []
    for (let i = 0; i < args.nodes; i++) {
      const { node, token } = await orch.createNode({ name: `sim-${i}` })
      const workspaceId = workspaceIds[i % workspaceIds.length]
      await orch.addMember(workspaceId, node.id)
      nodes.push({ token, workspaceId })
    }
    return { url, nodes }
  },
  async waitReady (args: { count: number }) {
    await until('ready', args.count)
    return { ...counters }
  },
  async pinMany (args: { pins: number, replication: number }) {
    if (orch === undefined) throw new Error('not started')
    const cids: string[] = []
    for (let i = 0; i < args.pins; i++) {
      cids.push(CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`bench pin ${i}`))).toString())
    }
    const before = counters.pinned
    const start = performance.now()
    for (let i = 0; i < cids.length; i++) {
      await orch.pin(workspaceIds[i % workspaceIds.length], { cid: cids[i], replicationMin: args.replication, size: 1024 })
    }
    const placedMs = performance.now() - start
    await until('pinned', before + args.pins * args.replication)
    return { placedMs, confirmedMs: performance.now() - start, ...counters }
  },
  /** This instance's share of the pins (every `stride`-th from `offset`), `concurrency` calls at a time; confirmations counted by `counts`. */
  async pinShare (args: { pins: number, replication: number, offset: number, stride: number, concurrency: number }) {
    if (orch === undefined) throw new Error('not started')
    const o = orch
    if (workspaceIds.length === 0) workspaceIds = (await o.listWorkspaces()).map(w => w.id)
    const mine: number[] = []
    for (let i = args.offset; i < args.pins; i += args.stride) mine.push(i)
    const start = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: args.concurrency }, async () => {
      while (next < mine.length) {
        const i = mine[next++]
        const cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`bench pin ${i}`))).toString()
        await o.pin(workspaceIds[i % workspaceIds.length], { cid, replicationMin: args.replication, size: 1024 })
      }
    }))
    return { placedMs: performance.now() - start, calls: mine.length }
  },
  /** CPU time this process used so far (user + system), in ms. */
  async cpu () {
    const u = process.cpuUsage()
    return { ms: (u.user + u.system) / 1000, heapPeak, externalPeak }
  },
  async counts () {
    return { ...counters, leader: orch?.isLeader ?? false }
  },
  async stop () {
    await orch?.stop()
    orch = undefined
  }
}
