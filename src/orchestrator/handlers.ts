/**
 * What the orchestrator does with each message of an authenticated node.
 * Each handler runs inside the session hub's batch transaction: its writes
 * commit before its answers go out.
 */
import type { ContentPinnedMessage, ContentUnpinnedMessage, IpfsReadyMessage, PinFailedMessage, PinSyncMessage, StorageReportMessage } from '../protocol/index.js'
import { normaliseCid } from '../util/cid.js'
import { planPinSync } from './planner.js'
import type { OrchestratorParts } from './commands/parts.js'
import type { NodeSession } from './state.js'

export function onIpfsReady ({ ctx, bootstrap }: OrchestratorParts, session: NodeSession, nodeId: string, msg: IpfsReadyMessage): void {
  const addresses = msg.addresses.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${msg.peer_id}`)
  ctx.store.upsertPeer(msg.workspace_id, nodeId, msg.peer_id, addresses, ctx.clock.now())
  ctx.state.setReady(session, msg.workspace_id, nodeId, addresses)
  ctx.emit({ type: 'peer:ready', workspaceId: msg.workspace_id, nodeId, peerId: msg.peer_id, addresses })
  bootstrap.queue(msg.workspace_id, nodeId)
}

export function onPinSync ({ ctx, replication }: OrchestratorParts, session: NodeSession, nodeId: string, msg: PinSyncMessage): void {
  const { store } = ctx
  const ws = msg.workspace_id
  if (!session.ready.has(ws)) {
    ctx.send(session, { type: 'error', code: 'ERR_INVALID_MESSAGE', message: 'pin_sync before ipfs_ready', in_reply_to: 'pin_sync' })
    return
  }
  const have = new Set<string>()
  for (const c of msg.cids) have.add(normaliseCid(c))
  const now = ctx.clock.now()
  const actions = planPinSync(store.listAllocationsOfNode(nodeId, ws), have, cid => store.getPin(ws, cid) != null)
  for (const action of actions) {
    switch (action.op) {
      case 'set': replication.setAllocation(ws, action.cid, nodeId, action.state, null, now); break
      case 'forget': store.deleteAllocation(ws, action.cid, nodeId); break
      case 'removed': replication.removeAllocation(ws, action.cid, nodeId); break
      case 'unpin': ctx.send(session, { type: 'unpin_content', workspace_id: ws, cid: action.cid }); break
      case 'repin': {
        const pin = store.getPin(ws, action.cid)
        if (pin == null) break
        replication.setAllocation(ws, action.cid, nodeId, 'pinning', null, now)
        ctx.send(session, replication.pinMessage(pin))
      }
    }
  }
  replication.schedule(ws)
}

export function onContentPinned ({ ctx, replication }: OrchestratorParts, session: NodeSession, nodeId: string, msg: ContentPinnedMessage): void {
  const { store } = ctx
  const ws = msg.workspace_id
  const cid = normaliseCid(msg.cid)
  const pin = store.getPin(ws, cid)
  const alloc = store.getAllocation(ws, cid, nodeId)
  if (pin == null || alloc?.state === 'unpinning') {
    if (alloc == null) store.setAllocation(ws, cid, nodeId, 'unpinning', null, ctx.clock.now())
    ctx.send(session, { type: 'unpin_content', workspace_id: ws, cid })
    return
  }
  if (pin.size == null) store.upsertPin({ ...pin, size: msg.size })
  replication.setAllocation(ws, cid, nodeId, 'pinned', null, ctx.clock.now())
  if (alloc == null) replication.placePin(ws, cid)
}

export function onPinFailed ({ ctx, replication }: OrchestratorParts, nodeId: string, msg: PinFailedMessage): void {
  const ws = msg.workspace_id
  const cid = normaliseCid(msg.cid)
  const alloc = ctx.store.getAllocation(ws, cid, nodeId)
  if (alloc == null || alloc.state === 'unpinning') return
  ctx.log.warn({ nodeId, workspaceId: ws, cid, code: msg.error.code }, 'pin failed')
  if (msg.error.code === 'ERR_QUOTA_EXCEEDED' || msg.error.code === 'ERR_DISK_RESERVE') ctx.state.free.set(nodeId, 0)
  replication.setAllocation(ws, cid, nodeId, 'failed', msg.error, ctx.clock.now())
  replication.placePin(ws, cid)
}

export function onContentUnpinned ({ ctx, replication }: OrchestratorParts, nodeId: string, msg: ContentUnpinnedMessage): void {
  const cid = normaliseCid(msg.cid)
  const alloc = ctx.store.getAllocation(msg.workspace_id, cid, nodeId)
  if (alloc?.state !== 'unpinning') return
  replication.removeAllocation(msg.workspace_id, cid, nodeId)
  // the pin may still want copies (pinned again, or unpinned from this node alone): the node is a candidate again
  if (ctx.store.getPin(msg.workspace_id, cid) != null) replication.schedule(msg.workspace_id)
}

export function onStorageReport ({ ctx, replication }: OrchestratorParts, nodeId: string, msg: StorageReportMessage): void {
  const now = ctx.clock.now()
  const driveFree = msg.drive_free ?? null
  ctx.store.setNodeStorage(nodeId, msg.used, msg.quota, msg.free, now, driveFree)
  const before = ctx.state.free.get(nodeId)
  ctx.state.free.set(nodeId, msg.free)
  ctx.emit({ type: 'node:storage', nodeId, storage: { used: msg.used, quota: msg.quota, free: msg.free, driveFree, reportedAt: now } })
  // more room than we thought: pins that found no node may fit now
  if (before === undefined || msg.free > before) {
    for (const ws of ctx.state.sessions.get(nodeId)?.ready ?? []) replication.schedule(ws)
  }
}
