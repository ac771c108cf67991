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

export async function createWorkspace ({ ctx }: OrchestratorParts, init: { id?: string, name: string }): Promise<WorkspaceInfo> {
  ctx.check()
  const id = init.id ?? `ws-${randomBytes(6).toString('hex')}`
  validateWorkspaceId(id)
  checkName(init.name, 'Workspace')
  const row: WorkspaceRow = { id, name: init.name, swarm_key: generateSwarmKey(), key_version: 1, created_at: ctx.clock.now() }
  await ctx.tx(async t => {
    // ids name folders on case-insensitive file systems too: refuse ids that differ only by case
    const lower = id.toLowerCase()
    if ((await t.db.listWorkspaces()).some(w => w.id.toLowerCase() === lower)) throw new ConflictError(`Workspace ${id} already exists`)
    await t.db.insertWorkspace(row)
    t.emit({ type: 'workspace:created', workspaceId: id })
    t.afterCommit(() => { ctx.link.membersChanged(id) })
  })
  ctx.state.members.set(id, new Set())
  ctx.log.info({ workspaceId: id, keyFingerprint: parseSwarmKey(row.swarm_key).fingerprint }, 'workspace created')
  return workspaceInfo(ctx, row)
}

export async function rotateKey ({ ctx, bootstrap }: OrchestratorParts, workspaceId: string): Promise<KeyRotation> {
  const ws = await ctx.workspaceRow(workspaceId)
  const key = generateSwarmKey()
  const keyVersion = ws.key_version + 1
  const keyFingerprint = parseSwarmKey(key).fingerprint
  await ctx.tx(async t => {
    await t.db.setWorkspaceKey(ws.id, key, keyVersion)
    ctx.state.ready.get(ws.id)?.clear()
    ctx.state.peerAddrs.get(ws.id)?.clear()
    for (const nodeId of ctx.state.members.get(ws.id) ?? []) {
      const session = ctx.state.sessions.get(nodeId)
      if (session == null) continue
      session.ready.delete(ws.id)
      await bootstrap.sendJoined(t, session, ws.id)
    }
    t.afterCommit(() => { ctx.link.keyRotated(ws.id) })
    t.emit({ type: 'workspace:key-rotated', workspaceId: ws.id, keyVersion, keyFingerprint })
  })
  ctx.log.info({ workspaceId: ws.id, keyVersion, keyFingerprint }, 'workspace key rotated')
  return { workspaceId: ws.id, keyVersion, keyFingerprint }
}

export async function createNode ({ ctx }: OrchestratorParts, init: { name: string }): Promise<CreatedNode> {
  ctx.check()
  checkName(init.name, 'Node')
  const token = generateToken()
  const id = `node-${randomBytes(8).toString('hex')}`
  const now = ctx.clock.now()
  await ctx.tx(async t => {
    await t.db.insertNode({ id, name: init.name, token_hash: hashToken(token), created_at: now })
    t.emit({ type: 'node:created', nodeId: id })
  })
  ctx.state.offlineSince.set(id, now)
  return { node: await nodeInfo(ctx, await ctx.nodeRow(id)), token }
}

export async function addMember ({ ctx, bootstrap, replication }: OrchestratorParts, workspaceId: string, nodeId: string): Promise<void> {
  const ws = await ctx.workspaceRow(workspaceId)
  await ctx.nodeRow(nodeId)
  await ctx.tx(async t => {
    if (!await t.db.addMember(ws.id, nodeId, ctx.clock.now())) return
    ctx.memberSet(ws.id).add(nodeId)
    t.emit({ type: 'member:added', workspaceId: ws.id, nodeId })
    const session = ctx.state.sessions.get(nodeId)
    if (session != null) await bootstrap.sendJoined(t, session, ws.id)
    t.afterCommit(() => {
      ctx.link.membersChanged(ws.id, session == null ? nodeId : undefined)
      replication.schedule(ws.id)
    })
  })
}

export async function removeMember ({ ctx, replication }: OrchestratorParts, workspaceId: string, nodeId: string, options: { purge?: boolean } = {}): Promise<void> {
  const ws = await ctx.workspaceRow(workspaceId)
  await ctx.tx(async t => {
    if (!await t.db.isMember(ws.id, nodeId)) throw new NotFoundError(`Node ${String(nodeId).slice(0, 80)} is not a member of ${ws.id}`)
    await t.db.removeMember(ws.id, nodeId)
    await t.db.deleteAllocationsOfNode(nodeId, ws.id)
    ctx.state.members.get(ws.id)?.delete(nodeId)
    const session = ctx.state.sessions.get(nodeId)
    ctx.state.dropReadyIn(ws.id, nodeId)
    const left = { type: 'workspace_left' as const, workspace_id: ws.id, ...(options.purge === true ? { purge: true } : {}) }
    if (session != null) t.send(session, left)
    else t.sendTo(nodeId, left)
    t.emit({ type: 'member:removed', workspaceId: ws.id, nodeId })
    t.afterCommit(() => {
      ctx.link.nodeNotReady(ws.id, nodeId)
      ctx.link.membersChanged(ws.id)
    })
  })
  replication.schedule(ws.id)
}
