/**
 * A stand-in for one orchestrator instance on PostgreSQL, composed only of
 * the groundwork modules (store, lease, bus) until the orchestrator itself is
 * wired to them: it holds its nodes' sessions on the bus, and while it leads
 * it places every pin of a workspace (on a `placement:dirty` broadcast and
 * when it becomes leader), sending `pin_content` through the bus after commit.
 *
 * Run as a child process (`node --import tsx test/helpers/postgres-instance.ts`
 * with INSTANCE_URL, INSTANCE_ID, INSTANCE_NODES) it prints one JSON line per
 * event: `{ leader: true }` and `{ nodeId, message }` for its nodes' messages.
 */
import { chooseNodes } from '../../src/orchestrator/placement.js'
import { createClusterBus } from '../../src/orchestrator/pg/postgres-bus.js'
import { createLeaderLease } from '../../src/orchestrator/pg/postgres-lease.js'
import { createPostgresStore } from '../../src/orchestrator/pg/postgres-store.js'
import type { AllocationRow, AsyncOrchestratorStore } from '../../src/orchestrator/pg/async-store.js'
import type { BroadcastDetail, ClusterBus, NodeMessageDetail } from '../../src/orchestrator/pg/postgres-bus.js'
import type { LeaderLease } from '../../src/orchestrator/pg/postgres-lease.js'

export interface MiniInstance {
  id: string
  store: AsyncOrchestratorStore
  bus: ClusterBus
  lease: LeaderLease
  /** Messages received for this instance's nodes. */
  inbox: NodeMessageDetail[]
  /** Placement runs finished while leading (each resolves after its sends). */
  placed: () => Promise<void>
  stop: () => Promise<void>
}

/** One placement run: drops copies on nodes that are not online, tops every pin up to its target on online members. */
export async function placeWorkspace (store: AsyncOrchestratorStore, bus: ClusterBus, workspaceId: string): Promise<void> {
  const online = await bus.onlineNodes()
  const sends: Array<{ cid: string, nodeId: string }> = []
  await store.transaction(async tx => {
    const members = new Set(await tx.listMemberIds(workspaceId))
    const candidates = [...online.keys()].filter(id => members.has(id))
    const free = new Map((await tx.listNodes()).map(n => [n.id, n.storage_free ?? undefined]))
    const pins = await tx.lockPins(workspaceId)
    // every placer locks the pins first, so no other placer adds copies under us (four round trips, not several per pin)
    const byPin = new Map<string, string[]>()
    for (const a of await tx.listAllocationsOfWorkspace(workspaceId)) byPin.set(a.cid, [...(byPin.get(a.cid) ?? []), a.node_id])
    const gone: Array<{ cid: string, node_id: string }> = []
    const added: AllocationRow[] = []
    for (const pin of pins) {
      const live: string[] = []
      for (const nodeId of byPin.get(pin.cid) ?? []) {
        if (online.has(nodeId)) live.push(nodeId)
        else gone.push({ cid: pin.cid, node_id: nodeId })
      }
      const chosen = chooseNodes(candidates.filter(id => !live.includes(id)).map(nodeId => ({ nodeId, free: free.get(nodeId) })), pin.replication_max - live.length, pin.size)
      for (const nodeId of chosen) {
        const f = free.get(nodeId)
        if (f !== undefined && pin.size != null) free.set(nodeId, f - pin.size)
        added.push({ workspace_id: workspaceId, cid: pin.cid, node_id: nodeId, state: 'pinning', error: null, updated_at: Date.now() })
        sends.push({ cid: pin.cid, nodeId })
      }
    }
    await tx.deleteAllocations(workspaceId, gone)
    await tx.setAllocations(added)
  })
  // after the commit, as the orchestrator does: a rolled-back run sends nothing
  for (const s of sends) await bus.sendToNode(s.nodeId, { type: 'pin_content', workspace_id: workspaceId, cid: s.cid })
}

export async function startMiniInstance (url: string, id: string, nodes: string[], workspaceId = 'ws'): Promise<MiniInstance> {
  const store = await createPostgresStore({ connectionString: url, maxConnections: 2 })
  const bus = createClusterBus({ connectionString: url, instanceId: id })
  const lease = createLeaderLease({ connectionString: url, instanceId: id, heartbeatMs: 250 })
  const inbox: NodeMessageDetail[] = []
  bus.addEventListener('node-message', (evt) => { inbox.push((evt as CustomEvent<NodeMessageDetail>).detail) })
  await bus.start()
  for (const nodeId of nodes) await bus.hold(nodeId)

  // placement runs one at a time; a request while one runs schedules one more
  let running: Promise<void> = Promise.resolve()
  const place = (): void => {
    running = running.then(async () => {
      if (lease.isLeader) await placeWorkspace(store, bus, workspaceId)
    }).catch((err: Error) => { console.error(`instance ${id}: placement failed: ${err.message}`) })
  }
  lease.addEventListener('acquired', place)
  bus.addEventListener('broadcast', (evt) => {
    if ((evt as CustomEvent<BroadcastDetail>).detail.topic === 'placement:dirty') place()
  })
  lease.start()
  return {
    id,
    store,
    bus,
    lease,
    inbox,
    placed: async () => { await running },
    async stop () {
      await lease.stop()
      await running
      await bus.stop()
      await store.close()
    }
  }
}

// as a child process: report on stdout, run until killed
if (process.env.INSTANCE_URL != null && process.argv[1]?.endsWith('postgres-instance.ts') === true) {
  const instance = await startMiniInstance(process.env.INSTANCE_URL, process.env.INSTANCE_ID ?? 'child', (process.env.INSTANCE_NODES ?? '').split(',').filter(Boolean))
  instance.lease.addEventListener('acquired', () => { console.log(JSON.stringify({ leader: true })) })
  instance.bus.addEventListener('node-message', (evt) => { console.log(JSON.stringify((evt as CustomEvent<NodeMessageDetail>).detail)) })
  if (instance.lease.isLeader) console.log(JSON.stringify({ leader: true }))
  console.log(JSON.stringify({ ready: true }))
}
