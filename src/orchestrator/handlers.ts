/**
 * What the orchestrator does with each message of an authenticated node.
 * Each handler runs inside the session hub's batch transaction (`t`): its
 * writes commit before its answers go out.
 */
import type { ContentPinnedMessage, ContentUnpinnedMessage, IpfsReadyMessage, PinFailedMessage, PinSyncMessage, StorageReportMessage } from '../protocol/index.js'
import { normaliseCid } from '../util/cid.js'
import { planPinSync } from './planner.js'
import type { OrchestratorParts } from './commands/parts.js'
import type { TxScope } from './context.js'
import type { NodeSession } from './state.js'
import { hasBulk } from './store/types.js'
import type { AllocationRow, BulkStoreOperations } from './store/types.js'

/** One `content_pinned` of a batch, from an authenticated session. */
export interface Confirmation {
  session: NodeSession
  nodeId: string
  /** `msg.cid`, normalised. */
  cid: string
  msg: ContentPinnedMessage
}

export async function onIpfsReady ({ ctx, bootstrap }: OrchestratorParts, t: TxScope, session: NodeSession, nodeId: string, msg: IpfsReadyMessage): Promise<void> {
  const addresses = msg.addresses.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${msg.peer_id}`)
  // PostgreSQL: the membership check is part of the write (the hub did not read it)
  if (hasBulk(t.db)) {
    if (!await t.db.upsertPeerIfMember(msg.workspace_id, nodeId, msg.peer_id, addresses, ctx.clock.now())) {
      forbidden(t, session, msg.type)
      return
    }
  } else {
    await t.db.upsertPeer(msg.workspace_id, nodeId, msg.peer_id, addresses, ctx.clock.now())
  }
  ctx.state.setReady(session, msg.workspace_id, nodeId, addresses)
  t.emit({ type: 'peer:ready', workspaceId: msg.workspace_id, nodeId, peerId: msg.peer_id, addresses })
  t.afterCommit(() => {
    ctx.link.nodeReady(msg.workspace_id, nodeId, addresses)
    bootstrap.queue(msg.workspace_id, nodeId)
  })
}

/** The refusal of a workspace message from a node that is not a member. */
export function forbidden (t: TxScope, session: NodeSession, type: string): void {
  t.send(session, { type: 'error', code: 'ERR_FORBIDDEN', message: 'Not a member of this workspace', in_reply_to: type })
}

export async function onPinSync ({ ctx, replication }: OrchestratorParts, t: TxScope, session: NodeSession, nodeId: string, msg: PinSyncMessage): Promise<void> {
  const { db } = t
  const ws = msg.workspace_id
  // PostgreSQL: the membership check is part of the read of the node's allocations (the hub did not read it)
  const mine = hasBulk(db) ? await db.listAllocationsOfNodeIfMember(nodeId, ws) : undefined
  if (hasBulk(db) && mine == null) {
    forbidden(t, session, msg.type)
    return
  }
  if (!session.ready.has(ws)) {
    t.send(session, { type: 'error', code: 'ERR_INVALID_MESSAGE', message: 'pin_sync before ipfs_ready', in_reply_to: 'pin_sync' })
    return
  }
  const have = new Set<string>()
  for (const c of msg.cids) have.add(normaliseCid(c))
  const now = ctx.clock.now()
  const allocations = mine ?? await db.listAllocationsOfNode(nodeId, ws)
  // the planner asks about the copies the node lost and the ones it holds unasked: read those pins first
  const known = new Set(allocations.map(a => a.cid))
  const asked = [...allocations.filter(a => !have.has(a.cid)).map(a => a.cid), ...[...have].filter(c => !known.has(c))]
  const pinned = new Set<string>()
  for (const c of asked) if (await db.getPin(ws, c) != null) pinned.add(c)
  const actions = planPinSync(allocations, have, cid => pinned.has(cid))
  for (const action of actions) {
    switch (action.op) {
      case 'set': await replication.setAllocation(t, ws, action.cid, nodeId, action.state, null, now); break
      case 'forget': await db.deleteAllocation(ws, action.cid, nodeId); break
      case 'removed': await replication.removeAllocation(t, ws, action.cid, nodeId); break
      case 'unpin': t.send(session, { type: 'unpin_content', workspace_id: ws, cid: action.cid }); break
      case 'repin': {
        const pin = await db.getPin(ws, action.cid)
        if (pin == null) break
        await replication.setAllocation(t, ws, action.cid, nodeId, 'pinning', null, now)
        t.send(session, replication.pinMessage(pin, await db.listAllocationsOfPin(ws, action.cid)))
      }
    }
  }
  t.afterCommit(() => { replication.schedule(ws) })
}

export async function onContentPinned ({ ctx, replication }: OrchestratorParts, t: TxScope, session: NodeSession, nodeId: string, msg: ContentPinnedMessage): Promise<void> {
  const { db } = t
  const ws = msg.workspace_id
  const cid = normaliseCid(msg.cid)
  const pin = await db.getPin(ws, cid)
  const alloc = await db.getAllocation(ws, cid, nodeId)
  if (pin == null || alloc?.state === 'unpinning') {
    if (alloc == null) await db.setAllocation(ws, cid, nodeId, 'unpinning', null, ctx.clock.now())
    t.send(session, { type: 'unpin_content', workspace_id: ws, cid })
    return
  }
  if (pin.size == null) await db.upsertPin({ ...pin, size: msg.size })
  await replication.setAllocation(t, ws, cid, nodeId, 'pinned', null, ctx.clock.now())
  // a copy nobody asked for: the pin may have a surplus now
  if (alloc == null) await replication.placePin(t, ws, cid)
}

/**
 * {@link onContentPinned} for many confirmations (distinct workspace, cid and
 * node) in one read and one write: the membership check is part of the read
 * (rows held FOR SHARE), the allocations go out in one multi-row statement.
 * Throws when a statement fails; the caller (in a savepoint) then handles
 * the confirmations one by one.
 */
export async function onContentPinnedMany ({ ctx, replication }: OrchestratorParts, t: TxScope, db: BulkStoreOperations, list: Confirmation[]): Promise<void> {
  const keys = list.map(c => ({ workspace_id: c.msg.workspace_id, cid: c.cid, node_id: c.nodeId }))
  const found = await db.readConfirmations(keys)
  const now = ctx.clock.now()
  const writes: AllocationRow[] = []
  const place: Array<{ ws: string, cid: string }> = []
  for (let i = 0; i < list.length; i++) {
    const { session, msg } = list[i]
    const { workspace_id: ws, cid, node_id: nodeId } = keys[i]
    const { member, pin, state } = found[i]
    if (!member) {
      t.send(session, { type: 'error', code: 'ERR_FORBIDDEN', message: 'Not a member of this workspace', in_reply_to: msg.type })
      continue
    }
    if (pin == null || state === 'unpinning') {
      if (state == null) writes.push({ workspace_id: ws, cid, node_id: nodeId, state: 'unpinning', error: null, updated_at: now })
      t.send(session, { type: 'unpin_content', workspace_id: ws, cid })
      continue
    }
    if (pin.size == null) await t.db.upsertPin({ ...pin, size: msg.size })
    writes.push({ workspace_id: ws, cid, node_id: nodeId, state: 'pinned', error: null, updated_at: now })
    t.emit({ type: 'allocation', workspaceId: ws, cid, nodeId, state: 'pinned' })
    // a copy nobody asked for: the pin may have a surplus now
    if (state == null) place.push({ ws, cid })
  }
  if (writes.length > 0) await t.db.setAllocations(writes)
  for (const p of place) await replication.placePin(t, p.ws, p.cid)
}

/** The node's allocation of a pin; PostgreSQL: with the membership check in the same statement (`null`: refused, answered). */
async function allocationOf (t: TxScope, session: NodeSession, nodeId: string, msg: { type: string, workspace_id: string }, cid: string): Promise<AllocationRow | undefined | null> {
  if (!hasBulk(t.db)) return await t.db.getAllocation(msg.workspace_id, cid, nodeId)
  const found = await t.db.getAllocationIfMember(msg.workspace_id, cid, nodeId)
  if (found == null) forbidden(t, session, msg.type)
  return found == null ? null : found.allocation
}

export async function onPinFailed ({ ctx, replication }: OrchestratorParts, t: TxScope, session: NodeSession, nodeId: string, msg: PinFailedMessage): Promise<void> {
  const ws = msg.workspace_id
  const cid = normaliseCid(msg.cid)
  const alloc = await allocationOf(t, session, nodeId, msg, cid)
  if (alloc == null || alloc.state === 'unpinning') return
  ctx.log.warn({ nodeId, workspaceId: ws, cid, code: msg.error.code }, 'pin failed')
  if (msg.error.code === 'ERR_QUOTA_EXCEEDED' || msg.error.code === 'ERR_DISK_RESERVE') ctx.state.free.set(nodeId, 0)
  await replication.setAllocation(t, ws, cid, nodeId, 'failed', msg.error, ctx.clock.now())
  await replication.placePin(t, ws, cid)
}

export async function onContentUnpinned ({ replication }: OrchestratorParts, t: TxScope, session: NodeSession, nodeId: string, msg: ContentUnpinnedMessage): Promise<void> {
  const cid = normaliseCid(msg.cid)
  const alloc = await allocationOf(t, session, nodeId, msg, cid)
  if (alloc?.state !== 'unpinning') return
  await replication.removeAllocation(t, msg.workspace_id, cid, nodeId)
  // the pin may still want copies (pinned again, or unpinned from this node alone): the node is a candidate again
  if (await t.db.getPin(msg.workspace_id, cid) != null) t.afterCommit(() => { replication.schedule(msg.workspace_id) })
}

export async function onStorageReport ({ ctx, replication }: OrchestratorParts, t: TxScope, nodeId: string, msg: StorageReportMessage): Promise<void> {
  const now = ctx.clock.now()
  const driveFree = msg.drive_free ?? null
  await t.db.setNodeStorage(nodeId, msg.used, msg.quota, msg.free, now, driveFree)
  const before = ctx.state.free.get(nodeId)
  ctx.state.free.set(nodeId, msg.free)
  t.emit({ type: 'node:storage', nodeId, storage: { used: msg.used, quota: msg.quota, free: msg.free, driveFree, reportedAt: now } })
  // more room than we thought: pins that found no node may fit now
  if (before === undefined || msg.free > before) {
    const ready = [...ctx.state.sessions.get(nodeId)?.ready ?? []]
    t.afterCommit(() => { for (const ws of ready) replication.schedule(ws) })
  }
}
