/**
 * Workspace, node and membership commands. Each runs in one transaction:
 * its rows are committed before it returns, then its messages go out.
 */
import { randomBytes } from 'node:crypto'
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../errors.js'
import { validateWorkspaceId } from '../../storage/workspace-id.js'
import { generateSwarmKey, parseSwarmKey } from '../../swarm-key/index.js'
import { generateToken, hashToken } from '../../util/tokens.js'
import { nodeInfo, workspaceInfo } from '../views.js'
import type { WorkspaceRow } from '../store/types.js'
import type { CreatedNode, KeyRotation, WorkspaceInfo } from '../types.js'
import type { OrchestratorParts } from './parts.js'

function checkName (name: unknown, what: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new InvalidArgumentError(`${what} name must be 1 to 256 characters`)
}

export function createWorkspace ({ ctx }: OrchestratorParts, init: { id?: string, name: string }): WorkspaceInfo {
  ctx.check()
  const id = init.id ?? `ws-${randomBytes(6).toString('hex')}`
  validateWorkspaceId(id)
  checkName(init.name, 'Workspace')
  const row: WorkspaceRow = { id, name: init.name, swarm_key: generateSwarmKey(), key_version: 1, created_at: ctx.clock.now() }
  ctx.tx(() => {
    // ids name folders on case-insensitive file systems too: refuse ids that differ only by case
    const lower = id.toLowerCase()
    if (ctx.store.listWorkspaces().some(w => w.id.toLowerCase() === lower)) throw new ConflictError(`Workspace ${id} already exists`)
    ctx.store.insertWorkspace(row)
    ctx.emit({ type: 'workspace:created', workspaceId: id })
  })
  ctx.state.members.set(id, new Set())
  ctx.log.info({ workspaceId: id, keyFingerprint: parseSwarmKey(row.swarm_key).fingerprint }, 'workspace created')
  return workspaceInfo(ctx, row)
}

export function rotateKey ({ ctx, bootstrap }: OrchestratorParts, workspaceId: string): KeyRotation {
  const ws = ctx.workspaceRow(workspaceId)
  const key = generateSwarmKey()
  const keyVersion = ws.key_version + 1
  const keyFingerprint = parseSwarmKey(key).fingerprint
  ctx.tx(() => {
    ctx.store.setWorkspaceKey(ws.id, key, keyVersion)
    ctx.state.ready.get(ws.id)?.clear()
    ctx.state.peerAddrs.get(ws.id)?.clear()
    for (const nodeId of ctx.state.members.get(ws.id) ?? []) {
      const session = ctx.state.sessions.get(nodeId)
      if (session == null) continue
      session.ready.delete(ws.id)
      bootstrap.sendJoined(session, ws.id)
    }
    ctx.emit({ type: 'workspace:key-rotated', workspaceId: ws.id, keyVersion, keyFingerprint })
  })
  ctx.log.info({ workspaceId: ws.id, keyVersion, keyFingerprint }, 'workspace key rotated')
  return { workspaceId: ws.id, keyVersion, keyFingerprint }
}

export function createNode ({ ctx }: OrchestratorParts, init: { name: string }): CreatedNode {
  ctx.check()
  checkName(init.name, 'Node')
  const token = generateToken()
  const id = `node-${randomBytes(8).toString('hex')}`
  const now = ctx.clock.now()
  ctx.tx(() => {
    ctx.store.insertNode({ id, name: init.name, token_hash: hashToken(token), created_at: now })
    ctx.emit({ type: 'node:created', nodeId: id })
  })
  ctx.state.offlineSince.set(id, now)
  return { node: nodeInfo(ctx, ctx.nodeRow(id)), token }
}

export function addMember ({ ctx, bootstrap, replication }: OrchestratorParts, workspaceId: string, nodeId: string): void {
  const ws = ctx.workspaceRow(workspaceId)
  ctx.nodeRow(nodeId)
  ctx.tx(() => {
    if (!ctx.store.addMember(ws.id, nodeId, ctx.clock.now())) return
    ctx.memberSet(ws.id).add(nodeId)
    ctx.emit({ type: 'member:added', workspaceId: ws.id, nodeId })
    const session = ctx.state.sessions.get(nodeId)
    if (session != null) bootstrap.sendJoined(session, ws.id)
    replication.schedule(ws.id)
  })
}

export function removeMember ({ ctx, replication }: OrchestratorParts, workspaceId: string, nodeId: string, options: { purge?: boolean } = {}): void {
  const ws = ctx.workspaceRow(workspaceId)
  if (!ctx.store.isMember(ws.id, nodeId)) throw new NotFoundError(`Node ${String(nodeId).slice(0, 80)} is not a member of ${ws.id}`)
  ctx.tx(() => {
    ctx.store.removeMember(ws.id, nodeId)
    ctx.store.deleteAllocationsOfNode(nodeId, ws.id)
    ctx.state.members.get(ws.id)?.delete(nodeId)
    const session = ctx.state.sessions.get(nodeId)
    ctx.state.dropReadyIn(ws.id, nodeId)
    if (session != null) ctx.send(session, { type: 'workspace_left', workspace_id: ws.id, ...(options.purge === true ? { purge: true } : {}) })
    ctx.emit({ type: 'member:removed', workspaceId: ws.id, nodeId })
  })
  replication.schedule(ws.id)
}
