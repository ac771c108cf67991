/**
 * The orchestrator without its network: the store, the live state, the
 * commands, the views and the session hub, wired together. `createOrchestrator`
 * puts a WebSocket server and the admin API in front of it; tests drive it
 * directly with in-memory connections, a manual clock and scheduler.
 * The store is asynchronous: SQLite (given as is, or through
 * `asyncSqliteStore`) or PostgreSQL (`createPostgresStore`).
 */
import { Bootstrap } from './bootstrap.js'
import { systemClock, systemScheduler } from './clock.js'
import type { Clock, Scheduler } from './clock.js'
import { addMember, createNode, createWorkspace, removeMember, rotateKey } from './commands/workspaces.js'
import { pin, pinAlone, pinOnNode, unpin, unpinOnNode } from './commands/pins.js'
import { PinGroup } from './commands/pin-group.js'
import type { OrchestratorParts } from './commands/parts.js'
import { OrchestratorContext } from './context.js'
import { Replication } from './replication.js'
import { SessionHub } from './session-hub.js'
import { LiveState } from './state.js'
import { singleInstance } from './cluster/link.js'
import type { ClusterLink } from './cluster/link.js'
import { asyncSqliteStore } from './store/sqlite-adapter.js'
import type { SyncSqliteStore } from './store/sqlite-adapter.js'
import type { AsyncOrchestratorStore } from './store/async-store.js'
import type { KeyEncryptionKey } from './store/key-encryption.js'
import type { OrchestratorStore } from './store/types.js'
import type { CreatedNode, KeyRotation, NodeInfo, Orchestrator, OrchestratorEvent, OrchestratorLogger, PinRequest, PinStatus, WorkspaceInfo, WorkspaceStatus } from './types.js'
import { nodeInfo, pinStatus, workspaceInfo, workspaceStatus } from './views.js'

export const silentLogger: OrchestratorLogger = { debug () {}, info () {}, warn () {}, error () {} }

export interface OrchestratorCoreInit {
  /** An asynchronous store, or an open SQLite store (wrapped in `asyncSqliteStore`). */
  store: AsyncOrchestratorStore | OrchestratorStore
  /** The other instances on the same database. @default alone ({@link singleInstance}) */
  link?: ClusterLink
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
export type OrchestratorCore = Omit<Orchestrator, 'start' | 'stop' | 'adminToken' | 'rotateKeyEncryptionKey' | 'idle' | 'settled' | 'isLeader'> & {
  readonly hub: SessionHub
  readonly context: OrchestratorContext
  readonly replication: Replication
  readonly bootstrap: Bootstrap
  /** The store the core works on (asynchronous). */
  readonly store: AsyncOrchestratorStore
  /** Records that the orchestrator is alive now (its downtime does not count against the nodes). */
  touchAlive(): Promise<void>
  /** Re-encrypts every swarm key under `next` (`null`: plain) in one transaction; returns how many. */
  rotateKeyEncryptionKey(next: KeyEncryptionKey | null): Promise<number>
  /** Resolves once the work started by timers and received frames is done (tests wait on it after moving a manual clock). */
  idle(): Promise<void>
  /** {@link idle}, and what waits in a batch (placement, `bootstrap_update`s) done now instead of at its timer. */
  settled(): Promise<void>
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
 * const core = await createOrchestratorCore({ store: openOrchestratorStore({ path: ':memory:' }), clock: time, scheduler: time })
 * const session = core.hub.accept(connection)
 * await core.hub.receive([{ session, data: JSON.stringify({ type: 'hello', protocol_version: 1, token }) }])
 * ```
 */
export async function createOrchestratorCore (init: OrchestratorCoreInit): Promise<OrchestratorCore> {
  const store = 'dialect' in init.store ? init.store : asyncSqliteStore(init.store as unknown as SyncSqliteStore)
  const clock = init.clock ?? systemClock
  const startedAt = clock.now()
  const repinGraceMs = init.repinGraceMs ?? 600_000
  const state = new LiveState(startedAt, repinGraceMs)
  const ctx = new OrchestratorContext({
    store,
    state,
    link: init.link ?? singleInstance,
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
  parts.pins = new PinGroup(parts, async call => await pinAlone(parts, call))
  const hub = new SessionHub(parts)
  await restore(ctx, replication, startedAt)

  return {
    hub,
    context: ctx,
    replication,
    bootstrap,
    store,
    onChange: (listener: (event: OrchestratorEvent) => void) => ctx.onChange(listener),
    swarmKeyFor: async (workspaceId: string): Promise<string> => (await ctx.workspaceRow(workspaceId)).swarm_key,
    announceBootstrapPeers: async (workspaceId: string): Promise<void> => { bootstrap.announce((await ctx.workspaceRow(workspaceId)).id) },
    createWorkspace: async (i: { id?: string, name: string }): Promise<WorkspaceInfo> => await createWorkspace(parts, i),
    listWorkspaces: async (): Promise<WorkspaceInfo[]> => { ctx.check(); return (await store.listWorkspaces()).map(w => workspaceInfo(ctx, w)) },
    getWorkspace: async (workspaceId: string): Promise<WorkspaceInfo> => workspaceInfo(ctx, await ctx.workspaceRow(workspaceId)),
    rotateKey: async (workspaceId: string): Promise<KeyRotation> => await rotateKey(parts, workspaceId),
    createNode: async (i: { name: string }): Promise<CreatedNode> => await createNode(parts, i),
    listNodes: async (): Promise<NodeInfo[]> => {
      ctx.check()
      const online = await ctx.link.onlineNodes()
      const out: NodeInfo[] = []
      for (const n of await store.listNodes()) out.push(await nodeInfo(ctx, n, online))
      return out
    },
    getNode: async (nodeId: string): Promise<NodeInfo> => await nodeInfo(ctx, await ctx.nodeRow(nodeId), await ctx.link.onlineNodes()),
    addMember: async (workspaceId: string, nodeId: string): Promise<void> => { await addMember(parts, workspaceId, nodeId) },
    removeMember: async (workspaceId: string, nodeId: string, options?: { purge?: boolean }): Promise<void> => { await removeMember(parts, workspaceId, nodeId, options) },
    pin: async (workspaceId: string, request: PinRequest): Promise<PinStatus> => await pin(parts, workspaceId, request),
    unpin: async (workspaceId: string, cid: string): Promise<void> => { await unpin(parts, workspaceId, cid) },
    pinOnNode: async (workspaceId: string, nodeId: string, request: PinRequest): Promise<PinStatus> => await pinOnNode(parts, workspaceId, nodeId, request),
    unpinOnNode: async (workspaceId: string, nodeId: string, cid: string): Promise<void> => { await unpinOnNode(parts, workspaceId, nodeId, cid) },
    pinStatus: async (workspaceId: string, cid: string): Promise<PinStatus> => await pinStatus(ctx, workspaceId, cid),
    workspaceStatus: async (workspaceId: string): Promise<WorkspaceStatus> => await workspaceStatus(ctx, workspaceId),
    touchAlive: async (): Promise<void> => { if (!ctx.closed) await store.setMeta('last_alive', String(clock.now())) },
    rotateKeyEncryptionKey: async (next: KeyEncryptionKey | null): Promise<number> => { ctx.check(); return await store.rotateKeyEncryptionKey(next) },
    idle: async () => { await ctx.idle() },
    settled: async () => {
      do {
        await ctx.idle()
        await replication.flush()
        bootstrap.flush()
      } while (ctx.busy)
    },
    close: (): void => {
      replication.close()
      bootstrap.close()
      ctx.close()
      state.clear()
    }
  }
}

async function restore (ctx: OrchestratorContext, replication: Replication, startedAt: number): Promise<void> {
  const { store, state } = ctx
  for (const ws of await store.listWorkspaces()) state.members.set(ws.id, new Set(await store.listMemberIds(ws.id)))
  // the orchestrator's own downtime does not count against the nodes: a node
  // that was online when it stopped starts its grace period now, one that
  // was already offline for X ms is offline for X ms now
  const lastAlive = Number(await store.getMeta('last_alive') ?? startedAt)
  const downtime = Math.max(0, startedAt - lastAlive)
  for (const node of await store.listNodes()) {
    const since = node.last_seen == null ? startedAt : Math.min(startedAt, node.last_seen + downtime)
    state.offlineSince.set(node.id, since)
    if (node.storage_free != null) state.free.set(node.id, node.storage_free)
  }
  await store.setMeta('last_alive', String(startedAt))
  // after the grace period, place the pins of nodes that never came back
  ctx.later(ctx.settings.repinGraceMs + 10, () => { replication.scheduleAll() })
}
