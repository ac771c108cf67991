/**
 * The orchestrator without its network: the store, the live state, the
 * commands, the views and the session hub, wired together. `createOrchestrator`
 * puts a WebSocket server and the admin API in front of it; tests drive it
 * directly with in-memory connections, a manual clock and scheduler.
 */
import { Bootstrap } from './bootstrap.js'
import { systemClock, systemScheduler } from './clock.js'
import type { Clock, Scheduler } from './clock.js'
import { addMember, createNode, createWorkspace, removeMember, rotateKey } from './commands/workspaces.js'
import { pin, pinOnNode, unpin, unpinOnNode } from './commands/pins.js'
import type { OrchestratorParts } from './commands/parts.js'
import { OrchestratorContext } from './context.js'
import { Replication } from './replication.js'
import { SessionHub } from './session-hub.js'
import { LiveState } from './state.js'
import type { KeyEncryptionKey } from './store/key-encryption.js'
import type { OrchestratorStore } from './store/types.js'
import type { CreatedNode, KeyRotation, NodeInfo, Orchestrator, OrchestratorEvent, OrchestratorLogger, PinRequest, PinStatus, WorkspaceInfo, WorkspaceStatus } from './types.js'
import { nodeInfo, pinStatus, workspaceInfo, workspaceStatus } from './views.js'

export const silentLogger: OrchestratorLogger = { debug () {}, info () {}, warn () {}, error () {} }

export interface OrchestratorCoreInit {
  store: OrchestratorStore
  clock?: Clock
  scheduler?: Scheduler
  logger?: OrchestratorLogger
  /** @default 600000 */
  repinGraceMs?: number
  /** @default 32 */
  maxBootstrapPeers?: number
  /** @default 600000 */
  pinTimeoutMs?: number
  /** @default 10000 */
  authTimeoutMs?: number
  extraBootstrapPeers?: (workspaceId: string) => string[]
}

/** The library API of the orchestrator, plus the session hub its transport feeds. */
export type OrchestratorCore = Omit<Orchestrator, 'start' | 'stop' | 'adminToken' | 'rotateKeyEncryptionKey'> & {
  readonly hub: SessionHub
  readonly context: OrchestratorContext
  /** Records that the orchestrator is alive now (its downtime does not count against the nodes). */
  touchAlive(): void
  /** Re-encrypts every swarm key under `next` (`null`: plain) in one transaction; returns how many. */
  rotateKeyEncryptionKey(next: KeyEncryptionKey | null): number
  /** Stops the timers and forgets the live state (the store stays open: its owner closes it). */
  close(): void
}

/**
 * Wires the orchestrator's parts over an open store and restores the live
 * state: every node starts offline, with its offline time carried over the
 * orchestrator's own downtime, and pins of nodes that do not come back within
 * the grace period are placed elsewhere.
 *
 * @example
 * ```ts
 * const time = createManualTime()
 * const core = createOrchestratorCore({ store: openOrchestratorStore({ path: ':memory:' }), clock: time, scheduler: time })
 * const session = core.hub.accept(connection)
 * core.hub.receive([{ session, data: JSON.stringify({ type: 'hello', protocol_version: 1, token }) }])
 * ```
 */
export function createOrchestratorCore (init: OrchestratorCoreInit): OrchestratorCore {
  const clock = init.clock ?? systemClock
  const startedAt = clock.now()
  const repinGraceMs = init.repinGraceMs ?? 600_000
  const state = new LiveState(startedAt, repinGraceMs)
  const ctx = new OrchestratorContext({
    store: init.store,
    state,
    clock,
    scheduler: init.scheduler ?? systemScheduler,
    log: init.logger ?? silentLogger,
    settings: {
      repinGraceMs,
      maxBootstrapPeers: init.maxBootstrapPeers ?? 32,
      pinTimeoutMs: init.pinTimeoutMs ?? 600_000,
      authTimeoutMs: init.authTimeoutMs ?? 10_000,
      ...(init.extraBootstrapPeers != null ? { extraBootstrapPeers: init.extraBootstrapPeers } : {})
    }
  })
  const replication = new Replication(ctx)
  const bootstrap = new Bootstrap(ctx)
  const parts: OrchestratorParts = { ctx, replication, bootstrap }
  const hub = new SessionHub(parts)
  restore(ctx, replication, startedAt)

  return {
    hub,
    context: ctx,
    onChange: (listener: (event: OrchestratorEvent) => void) => ctx.onChange(listener),
    swarmKeyFor: (workspaceId: string): string => ctx.workspaceRow(workspaceId).swarm_key,
    announceBootstrapPeers: (workspaceId: string): void => { bootstrap.announce(ctx.workspaceRow(workspaceId).id) },
    createWorkspace: (i: { id?: string, name: string }): WorkspaceInfo => createWorkspace(parts, i),
    listWorkspaces: (): WorkspaceInfo[] => { ctx.check(); return ctx.store.listWorkspaces().map(w => workspaceInfo(ctx, w)) },
    getWorkspace: (workspaceId: string): WorkspaceInfo => workspaceInfo(ctx, ctx.workspaceRow(workspaceId)),
    rotateKey: (workspaceId: string): KeyRotation => rotateKey(parts, workspaceId),
    createNode: (i: { name: string }): CreatedNode => createNode(parts, i),
    listNodes: (): NodeInfo[] => { ctx.check(); return ctx.store.listNodes().map(n => nodeInfo(ctx, n)) },
    getNode: (nodeId: string): NodeInfo => nodeInfo(ctx, ctx.nodeRow(nodeId)),
    addMember: (workspaceId: string, nodeId: string): void => { addMember(parts, workspaceId, nodeId) },
    removeMember: (workspaceId: string, nodeId: string, options?: { purge?: boolean }): void => { removeMember(parts, workspaceId, nodeId, options) },
    pin: (workspaceId: string, request: PinRequest): PinStatus => pin(parts, workspaceId, request),
    unpin: (workspaceId: string, cid: string): void => { unpin(parts, workspaceId, cid) },
    pinOnNode: (workspaceId: string, nodeId: string, request: PinRequest): PinStatus => pinOnNode(parts, workspaceId, nodeId, request),
    unpinOnNode: (workspaceId: string, nodeId: string, cid: string): void => { unpinOnNode(parts, workspaceId, nodeId, cid) },
    pinStatus: (workspaceId: string, cid: string): PinStatus => pinStatus(ctx, workspaceId, cid),
    workspaceStatus: (workspaceId: string): WorkspaceStatus => workspaceStatus(ctx, workspaceId),
    touchAlive: (): void => { if (!ctx.closed) ctx.store.setMeta('last_alive', String(clock.now())) },
    rotateKeyEncryptionKey: (next: KeyEncryptionKey | null): number => { ctx.check(); return ctx.store.rotateKeyEncryptionKey(next) },
    close: (): void => {
      replication.close()
      bootstrap.close()
      ctx.close()
      state.clear()
    }
  }
}

function restore (ctx: OrchestratorContext, replication: Replication, startedAt: number): void {
  const { store, state } = ctx
  for (const ws of store.listWorkspaces()) state.members.set(ws.id, new Set(store.listMemberIds(ws.id)))
  // the orchestrator's own downtime does not count against the nodes: a node
  // that was online when it stopped starts its grace period now, one that
  // was already offline for X ms is offline for X ms now
  const lastAlive = Number(store.getMeta('last_alive') ?? startedAt)
  const downtime = Math.max(0, startedAt - lastAlive)
  for (const node of store.listNodes()) {
    const since = node.last_seen == null ? startedAt : Math.min(startedAt, node.last_seen + downtime)
    state.offlineSince.set(node.id, since)
    if (node.storage_free != null) state.free.set(node.id, node.storage_free)
  }
  store.transaction(() => { store.setMeta('last_alive', String(startedAt)) })
  // after the grace period, place the pins of nodes that never came back
  ctx.later(ctx.settings.repinGraceMs + 10, () => { replication.scheduleAll() })
}
