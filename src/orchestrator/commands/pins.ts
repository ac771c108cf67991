/**
 * Pin commands: pin, unpin, and manual placement on one node. Each runs in
 * one transaction (committed before it returns) that locks the pin's row
 * first, so two instances pinning the same CID at once place it once;
 * placement follows the planner (`planner.ts`).
 */
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../errors.js'
import { normaliseCid } from '../../util/cid.js'
import { chooseNodes } from '../placement.js'
import { ACTIVE_STATES, countedAllocations } from '../planner.js'
import { pinStatus, pinStatusOf } from '../views.js'
import { AllocationBatch } from '../replication.js'
import type { TxScope } from '../context.js'
import type { LiveState } from '../state.js'
import type { AllocationRow, PinRow } from '../store/types.js'
import type { PinRequest, PinStatus } from '../types.js'
import type { OrchestratorParts, PinCall } from './parts.js'

function checkPinRequest (request: PinRequest, min: number, max: number): void {
  if (!Number.isInteger(min) || min < 1) throw new InvalidArgumentError('replicationMin must be an integer >= 1')
  if (!Number.isInteger(max) || (max !== -1 && max < min)) throw new InvalidArgumentError('replicationMax must be -1 or an integer >= replicationMin')
  if (request.size != null && (!Number.isSafeInteger(request.size) || request.size < 0)) throw new InvalidArgumentError('size must be a non-negative integer')
  if (request.name != null && (typeof request.name !== 'string' || request.name.length > 1024)) throw new InvalidArgumentError('name must be at most 1024 characters')
}

/** The pin row to store for a (re-)pin request: a new name or size wins, the first creation time stays. */
function pinRow (workspaceId: string, cid: string, request: PinRequest, existing: PinRow | undefined, min: number, max: number, now: number): PinRow {
  return {
    workspace_id: workspaceId,
    cid,
    name: request.name ?? existing?.name ?? null,
    size: request.size ?? null,
    replication_min: min,
    replication_max: max,
    created_at: existing?.created_at ?? now
  }
}

export async function pin (parts: OrchestratorParts, workspaceId: string, request: PinRequest): Promise<PinStatus> {
  const { ctx } = parts
  // a workspace this instance knows of (workspaces are never deleted) needs no read: the group's
  // foreign key refuses an unknown one, and the call then runs alone and reads it
  const known = typeof workspaceId === 'string' && ctx.state.members.has(workspaceId)
  if (known) ctx.check()
  const wsId = known ? workspaceId : (await ctx.workspaceRow(workspaceId)).id
  const cid = normaliseCid(request.cid)
  const min = request.replicationMin ?? 1
  const max = request.replicationMax ?? min
  checkPinRequest(request, min, max)
  const call = { workspaceId: wsId, cid, request, min, max }
  if (parts.pins?.enabled === true) return await parts.pins.add(call)
  return await pinAlone(parts, call)
}

/** One checked pin() call in its own transaction. */
export async function pinAlone ({ ctx, replication }: OrchestratorParts, call: PinCall): Promise<PinStatus> {
  const { cid, request, min, max } = call
  const ws = await ctx.workspaceRow(call.workspaceId)
  const answer = await ctx.tx(async t => {
    const { db } = t
    const existing = await db.lockPin(ws.id, cid)
    const row = pinRow(ws.id, cid, request, existing, min, max, ctx.clock.now())
    await db.upsertPin(row)
    // pinning again is how an operator retries failed copies
    const allocations: AllocationRow[] = []
    const failed: Array<{ cid: string, node_id: string }> = []
    for (const a of await db.listAllocationsOfPin(ws.id, cid)) {
      if (a.state === 'failed') failed.push({ cid, node_id: a.node_id })
      else allocations.push(a)
    }
    if (failed.length > 0) await db.deleteAllocations(ws.id, failed)
    // the row as stored (upsertPin keeps a known size), without reading it back
    const stored = { ...row, size: row.size ?? existing?.size ?? null }
    const batch = new AllocationBatch()
    await replication.placePin(t, ws.id, cid, stored, allocations, batch)
    const written = await replication.writeAllocations(t, batch)
    if (existing == null) t.emit({ type: 'pin:added', workspaceId: ws.id, cid })
    // the answer from what this transaction wrote, without reading it back after the commit
    const byNode = new Map(allocations.map(a => [a.node_id, a]))
    for (const a of written) byNode.set(a.node_id, a)
    return { stored, allocations: [...byNode.values()] }
  })
  return pinStatusOf(ctx, answer.stored, answer.allocations, await ctx.link.onlineNodes())
}

export async function pinOnNode ({ ctx, replication }: OrchestratorParts, workspaceId: string, nodeId: string, request: PinRequest): Promise<PinStatus> {
  const { state } = ctx
  const ws = await ctx.workspaceRow(workspaceId)
  await ctx.nodeRow(nodeId)
  if (!state.isMember(ws.id, nodeId)) throw new NotFoundError(`Node ${nodeId} is not a member of ${ws.id}`)
  const cid = normaliseCid(request.cid)
  await ctx.tx(async t => {
    const { db } = t
    const existing = await db.lockPin(ws.id, cid)
    const min = request.replicationMin ?? existing?.replication_min ?? 1
    let max = request.replicationMax ?? existing?.replication_max ?? min
    checkPinRequest(request, min, max)
    const now = ctx.clock.now()
    const snapshot = state.snapshot(ctx.memberSet(ws.id), ws.id)
    const allocations = await db.listAllocationsOfPin(ws.id, cid)
    const mine = allocations.find(a => a.node_id === nodeId)
    const placeHere = mine == null || !ACTIVE_STATES.has(mine.state)
    // the chosen copy must not be the surplus: make room for it
    if (placeHere && max !== -1) max = Math.max(max, countedAllocations(allocations, snapshot, now, nodeId).length + 1)
    await db.upsertPin(pinRow(ws.id, cid, request, existing, min, max, now))
    if (placeHere) {
      const session = state.sessions.get(nodeId)
      const ready = session?.ready.has(ws.id) === true
      // an offline (or not yet ready) node gets it from its next pin_sync
      const allocState = ready ? 'pinning' : 'queued'
      const row = await db.getPin(ws.id, cid)
      const batch = new AllocationBatch()
      batch.add({ workspace_id: ws.id, cid, node_id: nodeId, state: allocState, error: null, updated_at: now }, () => {
        t.emit({ type: 'allocation', workspaceId: ws.id, cid, nodeId, state: allocState })
        if (ready && session != null && row != null) t.send(session, replication.pinMessage(row, allocations))
      })
      // removed on another instance since this one looked: nothing of this call is kept
      if ((await replication.writeAllocations(t, batch)).length === 0) throw new NotFoundError(`Node ${nodeId} is not a member of ${ws.id}`)
      state.reserve(nodeId, request.size ?? existing?.size)
    }
    await replication.placePin(t, ws.id, cid)
    if (existing == null) t.emit({ type: 'pin:added', workspaceId: ws.id, cid })
  })
  return await pinStatus(ctx, ws.id, cid)
}

export async function unpinOnNode ({ ctx, replication }: OrchestratorParts, workspaceId: string, nodeId: string, cid: string): Promise<void> {
  const { state } = ctx
  const ws = await ctx.workspaceRow(workspaceId)
  const key = normaliseCid(cid)
  await ctx.tx(async t => {
    const { db } = t
    const pin = await db.lockPin(ws.id, key)
    if (pin == null) throw new NotFoundError(`CID ${key} is not pinned in ${ws.id}`)
    const alloc = typeof nodeId === 'string' ? await db.getAllocation(ws.id, key, nodeId) : undefined
    if (alloc == null || alloc.state === 'unpinning') throw new NotFoundError(`Node ${String(nodeId).slice(0, 80)} has no copy of ${key}`)
    if (alloc.state !== 'failed' && pin.replication_max === -1) {
      throw new ConflictError(`${key} wants a copy on every member: change its replication before unpinning it from one node`)
    }
    const now = ctx.clock.now()
    if (alloc.state === 'failed') {
      await replication.removeAllocation(t, ws.id, key, nodeId)
      return
    }
    // dropping this copy must leave replicationMin copies, counting the ones placement can add elsewhere
    const allocations = await db.listAllocationsOfPin(ws.id, key)
    const remaining = countedAllocations(allocations, state.snapshot(ctx.memberSet(ws.id), ws.id), now, nodeId).length
    const need = pin.replication_min - remaining
    if (need > 0) {
      const allocated = new Set(allocations.map(a => a.node_id))
      const candidates = [...(state.ready.get(ws.id) ?? [])].filter(id => id !== nodeId && !allocated.has(id)).map(id => ({ nodeId: id, free: state.free.get(id) }))
      if (chooseNodes(candidates, need, pin.size).length < need) {
        throw new ConflictError(`No other online member can take a copy of ${key} (it wants ${pin.replication_min}): unpin it from the workspace, or lower its replication`)
      }
    }
    const max = Math.max(pin.replication_min, pin.replication_max - 1)
    if (max !== pin.replication_max) await db.upsertPin({ ...pin, replication_max: max })
    const batch = new AllocationBatch()
    unpinning(state, t, batch, ws.id, key, nodeId, now)
    // removed on another instance since this one looked (the removal took its copies with it)
    if ((await replication.writeAllocations(t, batch)).length === 0) throw new NotFoundError(`Node ${String(nodeId).slice(0, 80)} has no copy of ${key}`)
    // below replicationMin now: another member takes a copy
    await replication.placePin(t, ws.id, key)
  })
}

/** An `unpinning` row for `batch`, with its event and the `unpin_content` for the node (wherever its session lives). */
function unpinning (state: LiveState, t: TxScope, batch: AllocationBatch, workspaceId: string, cid: string, nodeId: string, now: number): void {
  batch.add({ workspace_id: workspaceId, cid, node_id: nodeId, state: 'unpinning', error: null, updated_at: now }, () => {
    t.emit({ type: 'allocation', workspaceId, cid, nodeId, state: 'unpinning' })
    const session = state.sessions.get(nodeId)
    if (session?.ready.has(workspaceId) === true) t.send(session, { type: 'unpin_content', workspace_id: workspaceId, cid })
    else if (session == null) t.sendTo(nodeId, { type: 'unpin_content', workspace_id: workspaceId, cid })
  })
}

export async function unpin ({ ctx, replication }: OrchestratorParts, workspaceId: string, cid: string): Promise<void> {
  const { state } = ctx
  const ws = await ctx.workspaceRow(workspaceId)
  const key = normaliseCid(cid)
  const now = ctx.clock.now()
  await ctx.tx(async t => {
    const { db } = t
    if (await db.lockPin(ws.id, key) == null) throw new NotFoundError(`CID ${key} is not pinned in ${ws.id}`)
    const allocations = await db.listAllocationsOfPin(ws.id, key)
    await db.deletePin(ws.id, key)
    const batch = new AllocationBatch()
    for (const a of allocations) {
      if (a.state === 'failed') {
        await db.deleteAllocation(ws.id, key, a.node_id)
        continue
      }
      unpinning(state, t, batch, ws.id, key, a.node_id, now)
    }
    // one statement; a node removed on another instance meanwhile (its copies went with it) gets no row, no message
    await replication.writeAllocations(t, batch)
    t.emit({ type: 'pin:removed', workspaceId: ws.id, cid: key })
  })
}
