/**
 * The read model: workspace, node and pin views built from the store and the
 * live state. Read-only; nothing here writes or sends. No view carries a
 * swarm key, only its fingerprint. Who is online comes from the link: on
 * several instances, a node held by another one is online too.
 */
import { NotFoundError } from '../errors.js'
import { parseSwarmKey } from '../swarm-key/index.js'
import type { OrchestratorContext } from './context.js'
import { countedCopies } from './planner.js'
import type { AllocationRow, NodeRow, PinRow, WorkspaceRow } from './store/types.js'
import type { AllocationInfo, NodeInfo, NodeStorage, PinStatus, WorkspaceInfo, WorkspaceStatus } from './types.js'
import { normaliseCid } from '../util/cid.js'

export function workspaceInfo (ctx: OrchestratorContext, row: WorkspaceRow): WorkspaceInfo {
  return {
    id: row.id,
    name: row.name,
    keyVersion: row.key_version,
    keyFingerprint: parseSwarmKey(row.swarm_key).fingerprint,
    createdAt: row.created_at,
    members: [...ctx.memberSet(row.id)]
  }
}

export async function nodeInfo (ctx: OrchestratorContext, row: NodeRow, online?: ReadonlySet<string>): Promise<NodeInfo> {
  const storage: NodeStorage | null = row.storage_reported_at == null
    ? null
    : { used: row.storage_used ?? 0, quota: row.storage_quota ?? 0, free: row.storage_free ?? 0, driveFree: row.storage_drive_free ?? null, reportedAt: row.storage_reported_at }
  return {
    id: row.id,
    name: row.name,
    online: online?.has(row.id) ?? ctx.state.isOnline(row.id),
    createdAt: row.created_at,
    lastSeen: row.last_seen,
    storage,
    workspaces: await ctx.store.listWorkspaceIdsOfNode(row.id)
  }
}

/**
 * A pin's health. `copies` counts confirmed copies on members that are online
 * or offline for less than the grace period: a copy on a node gone longer is
 * not counted (the orchestrator is placing it elsewhere).
 */
export function pinStatusOf (ctx: OrchestratorContext, pin: PinRow, allocations: AllocationRow[], online?: ReadonlySet<string>): PinStatus {
  const infos: AllocationInfo[] = allocations.map(a => ({
    nodeId: a.node_id,
    state: a.state,
    error: a.error == null ? null : JSON.parse(a.error) as { code: string, message: string },
    updatedAt: a.updated_at
  }))
  const local = ctx.state.snapshot(ctx.memberSet(pin.workspace_id), pin.workspace_id)
  const snapshot = online == null ? local : { ...local, isOnline: (id: string) => online.has(id) }
  const copies = countedCopies(allocations, snapshot, ctx.clock.now())
  const inFlight = allocations.filter(a => a.state === 'queued' || a.state === 'pinning').length
  const failed = allocations.some(a => a.state === 'failed')
  const status = copies >= pin.replication_min
    ? 'pinned'
    : copies + inFlight >= pin.replication_min ? 'pinning' : failed && inFlight === 0 ? 'failed' : 'under-replicated'
  return {
    cid: pin.cid,
    name: pin.name,
    size: pin.size,
    replicationMin: pin.replication_min,
    replicationMax: pin.replication_max,
    createdAt: pin.created_at,
    copies,
    status,
    allocations: infos
  }
}

export async function pinStatus (ctx: OrchestratorContext, workspaceId: string, cid: string): Promise<PinStatus> {
  const ws = await ctx.workspaceRow(workspaceId)
  const key = normaliseCid(cid)
  const pin = await ctx.store.getPin(ws.id, key)
  if (pin == null) throw new NotFoundError(`CID ${key} is not pinned in ${ws.id}`)
  return pinStatusOf(ctx, pin, await ctx.store.listAllocationsOfPin(ws.id, key), await ctx.link.onlineNodes())
}

export async function workspaceStatus (ctx: OrchestratorContext, workspaceId: string): Promise<WorkspaceStatus> {
  const { store } = ctx
  const ws = await ctx.workspaceRow(workspaceId)
  const online = await ctx.link.onlineNodes()
  const peers = new Map((await store.listPeers(ws.id)).map(p => [p.node_id, p]))
  const nodes = []
  for (const id of await store.listMemberIds(ws.id)) {
    const node = await nodeInfo(ctx, await ctx.nodeRow(id), online)
    const peer = peers.get(id)
    nodes.push({
      id,
      name: node.name,
      online: node.online,
      lastSeen: node.lastSeen,
      peerId: peer?.peer_id ?? null,
      addresses: peer != null ? JSON.parse(peer.addresses) as string[] : [],
      storage: node.storage
    })
  }
  const storage = { used: 0, quota: 0, free: 0 }
  for (const n of nodes) {
    if (n.storage == null) continue
    storage.used += n.storage.used
    storage.quota += n.storage.quota
    storage.free += n.storage.free
  }
  const byPin = new Map<string, AllocationRow[]>()
  for (const a of await store.listAllocationsOfWorkspace(ws.id)) {
    const list = byPin.get(a.cid)
    if (list == null) byPin.set(a.cid, [a])
    else list.push(a)
  }
  return {
    workspace: workspaceInfo(ctx, ws),
    nodes,
    nodesOnline: nodes.filter(n => n.online).length,
    storage,
    pins: (await store.listPins(ws.id)).map(p => pinStatusOf(ctx, p, byPin.get(p.cid) ?? [], online))
  }
}
