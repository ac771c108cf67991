/**
 * Several orchestrator instances on one PostgreSQL: the {@link ClusterLink}
 * over the leader lease (`pg/postgres-lease.ts`) and the bus
 * (`pg/postgres-bus.ts`).
 *
 * - Placement and re-pinning run on the lease holder only; another instance
 *   that needs a placement broadcasts `placement:dirty` (a workspace) or
 *   `placement:pins` (the pins of any workspaces) and the leader places.
 *   A new leader places every workspace once it holds the lease.
 * - A message for a node held by another instance goes through the bus;
 *   a node that authenticates here takes its session over (the old instance
 *   closes its socket).
 * - Every instance refreshes, every `refreshMs`, who is online on the others
 *   and who is ready where (`cluster_ready`), so that views and the planner
 *   see every instance's nodes. A node that vanishes with its instance
 *   (kill -9) shows offline at the next refresh and is re-pinned after the
 *   grace period, like one that disconnected.
 * - Membership and key changes are broadcast: each instance reloads the
 *   workspace's members and sends the new key to the sessions it holds.
 * - Every instance's change events reach the others' listeners (the
 *   dashboard's live stream, a gateway) through the event relay
 *   (`event-relay.ts`); a node gone with a killed instance is announced
 *   offline by each instance that notices it.
 */
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { BUS_APP_PREFIX, createClusterBus } from '../pg/postgres-bus.js'
import { migrate } from '../pg/postgres-migrations.js'
import { ClusterView, VIEW_MIGRATIONS } from './cluster-view.js'
import type { BroadcastDetail, ClusterBus, NodeMessageDetail } from '../pg/postgres-bus.js'
import { createLeaderLease } from '../pg/postgres-lease.js'
import type { LeaderLease } from '../pg/postgres-lease.js'
import { PG_TYPES } from '../pg/postgres-store.js'
import { CLOSE_CODES } from '../session-hub.js'
import { createKeyLock } from '../../util/key-lock.js'
import type { OrchestratorMessage } from '../../protocol/index.js'
import type { OrchestratorCore } from '../core.js'
import type { OrchestratorLogger } from '../types.js'
import type { ClusterLink } from './link.js'
import { createEventRelay } from './event-relay.js'
import type { EventRelay } from './event-relay.js'

/** Placement hints to the leader are gathered this long (the leader batches for `PLACEMENT_BATCH_MS` anyway). */
const HINT_BATCH_MS = 5
/** A hint's payload stays well under PostgreSQL's NOTIFY limit (ASCII cids and ids). */
const HINT_BYTES = 6000

export interface ClusterLinkInit {
  connectionString: string
  /** 1 to 50 characters, unique among the instances. @default `<hostname>-<pid>-<random>` */
  instanceId?: string
  /** How often each instance reads the others' online and ready nodes (ms). @default 1000 */
  refreshMs?: number
  /** Leader lease heartbeat (ms). @default 1000 */
  heartbeatMs?: number
  logger?: OrchestratorLogger
}

export interface StartedLink {
  readonly link: ClusterLink
  readonly instanceId: string
  readonly bus: ClusterBus
  readonly lease: LeaderLease
  /** Connects the bus and lease events to the core (once it exists). */
  attach(core: OrchestratorCore): void
  /** Reads the other instances' nodes now. */
  refresh(): Promise<void>
  /** After `attach`: when no instance leads yet, waits (up to `timeoutMs`) until this one does, so that a lone instance places from its first call. */
  settle(timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

const silent: OrchestratorLogger = { debug () {}, info () {}, warn () {}, error () {} }

export function defaultInstanceId (): string {
  return `${hostname().slice(0, 30)}-${process.pid}-${randomBytes(3).toString('hex')}`.replace(/[^A-Za-z0-9._-]/g, '-')
}

/** Starts the bus and competes for the lease; returns the link for `createOrchestratorCore`. */
export async function startClusterLink (init: ClusterLinkInit): Promise<StartedLink> {
  const log = init.logger ?? silent
  const instanceId = init.instanceId ?? defaultInstanceId()
  const bus = createClusterBus({ connectionString: init.connectionString, instanceId, logger: log })
  const memberReloads = createKeyLock()
  const lease = createLeaderLease({ connectionString: init.connectionString, instanceId, heartbeatMs: init.heartbeatMs ?? 1000, logger: log })
  const pool = new pg.Pool({ connectionString: init.connectionString, max: 2, types: PG_TYPES })
  pool.on('error', (err) => { log.warn({ err: err.message }, 'idle PostgreSQL connection lost (cluster link)') })
  await bus.start()
  try {
    const client = await pool.connect()
    try {
      await migrate(client, 'cluster-view', VIEW_MIGRATIONS)
    } finally {
      client.release()
    }
  } catch (err) {
    await bus.stop()
    await pool.end()
    throw err
  }
  let core: OrchestratorCore | undefined
  let relay: EventRelay | undefined
  let stopped = false
  const work = new Set<Promise<unknown>>()
  const background = (what: string, task: Promise<unknown>): void => {
    const p = task.catch((err: Error) => { if (!stopped) log.warn({ err: err.message }, `${what} failed`) }).finally(() => { work.delete(p) })
    work.add(p)
  }
  const readyQuery = async (sql: string, values: unknown[]): Promise<void> => { await pool.query(sql, values) }

  const view = new ClusterView({ pool, instanceId, appPrefix: BUS_APP_PREFIX })
  // status answers (views, pin() results) see who is online as of at most 200 ms ago: a read of what changed
  const onlineNow = async (): Promise<ReadonlySet<string>> => {
    if (Date.now() - view.readAt >= 200) await view.read()
    return view.online
  }

  /** Per workspace, the cids to place (`null`: all of it), sent within {@link HINT_BATCH_MS}. */
  const hints = new Map<string, Set<string> | null>()
  let hintTimer: ReturnType<typeof setTimeout> | undefined
  const sendHints = (): void => {
    hintTimer = undefined
    // the pins of every workspace in as few NOTIFYs as fit (one per ~6 kB, not one per workspace): blocks of
    // "ws\ncid\ncid..." joined by an empty line, on the topic placement:pins
    let data = ''
    const flush = (): void => {
      if (data !== '') background('asking the leader to place', bus.broadcast('placement:pins', data))
      data = ''
    }
    for (const [ws, cids] of hints) {
      if (cids == null) {
        background('asking the leader to place', bus.broadcast('placement:dirty', ws))
        continue
      }
      let block = ''
      for (const cid of cids) {
        if (data.length + block.length + ws.length + cid.length + 3 > HINT_BYTES) {
          if (block !== '') data += `${data === '' ? '' : '\n\n'}${ws}${block}`
          block = ''
          flush()
        }
        block += `\n${cid}`
      }
      if (block !== '') data += `${data === '' ? '' : '\n\n'}${ws}${block}`
    }
    flush()
    hints.clear()
  }

  const link: ClusterLink = {
    clustered: true,
    isLeader: () => lease.isLeader,
    sendRemote: (nodeId, message) => { background('sending to a node on another instance', bus.sendToNode(nodeId, message)) },
    placementNeeded: (workspaceId, cid) => {
      // hints of the next few ms go together: one NOTIFY per workspace (and per ~7 kB of cids), not one per pin
      const pending = hints.get(workspaceId)
      if (cid == null) hints.set(workspaceId, null)
      else if (pending === undefined) hints.set(workspaceId, new Set([cid]))
      else pending?.add(cid)
      hintTimer ??= setTimeout(sendHints, HINT_BATCH_MS)
    },
    nodeHeld: (nodeId) => { background('holding a node', bus.hold(nodeId)) },
    nodeReleased: (nodeId) => {
      background('releasing a node', (async () => {
        await bus.release(nodeId)
        await readyQuery('DELETE FROM cluster_ready WHERE node_id = $1 AND instance_id = $2', [nodeId, instanceId])
      })())
    },
    nodeReady: (workspaceId, nodeId, addresses) => {
      background('recording a ready node', readyQuery(`INSERT INTO cluster_ready (workspace_id, node_id, instance_id, addresses) VALUES ($1, $2, $3, $4)
        ON CONFLICT (workspace_id, node_id) DO UPDATE SET instance_id = excluded.instance_id, addresses = excluded.addresses`, [workspaceId, nodeId, instanceId, JSON.stringify(addresses)]))
    },
    nodeNotReady: (workspaceId, nodeId) => { background('forgetting a ready node', readyQuery('DELETE FROM cluster_ready WHERE workspace_id = $1 AND node_id = $2', [workspaceId, nodeId])) },
    membersChanged: (workspaceId, joined) => { background('announcing a membership change', bus.broadcast('members', JSON.stringify({ ws: workspaceId, joined }))) },
    keyRotated: (workspaceId) => {
      background('announcing a key rotation', (async () => {
        await readyQuery('DELETE FROM cluster_ready WHERE workspace_id = $1', [workspaceId])
        await bus.broadcast('key-rotated', workspaceId)
      })())
    },
    onlineNodes: onlineNow
  }

  /** The nodes the last refresh saw online (to notice the ones that vanished). */
  const seen = new Set<string>()
  /** The report time of each node's free space as last applied. */
  const reported = new Map<string, number | null>()
  /** Reads what changed in who is online and ready on every instance; marks the nodes that vanished offline. */
  const refresh = async (): Promise<void> => {
    if (core == null || stopped) return
    const ctx = core.context
    const { state } = ctx
    await view.read()
    const now = ctx.clock.now()
    // nodes that were online somewhere and are not anymore: offline from now, re-pinned after the grace period
    for (const id of seen) {
      if (view.online.has(id)) continue
      seen.delete(id)
      if (state.sessions.has(id)) continue
      state.offlineSince.set(id, now)
      // its instance may have died without a word: this instance's listeners hear it from here
      relay?.nodeVanished(id)
      const workspaces = [...state.members].filter(([, m]) => m.has(id)).map(([ws]) => ws)
      core.replication.afterGrace(id, workspaces)
    }
    for (const id of view.online) {
      seen.add(id)
      if (!state.sessions.has(id)) state.offlineSince.delete(id)
    }
    // nodes that became ready on another instance: the leader places what waited for them
    const fresh: Array<[string, string]> = []
    for (const [ws, nodes] of view.ready) {
      const known = state.remoteReady.get(ws)
      for (const id of nodes.keys()) if (known?.has(id) !== true && view.online.has(id) && !state.sessions.has(id)) fresh.push([ws, id])
    }
    state.setRemote(view.online, view.ready)
    // this instance's ready nodes hear of them (bootstrap_update), as of a node that became ready here
    for (const [ws, id] of fresh) core.bootstrap.queue(ws, id)
    if (lease.isLeader) for (const ws of new Set(fresh.map(([ws]) => ws))) core.replication.schedule(ws)
    // free space the other instances' nodes reported
    for (const [id, free, at] of view.takeStorage()) {
      if (state.sessions.has(id) || reported.get(id) === at) continue
      reported.set(id, at)
      state.free.set(id, free)
    }
  }
  let timer: NodeJS.Timeout | undefined
  const tick = (): void => {
    timer = setTimeout(() => {
      background('refreshing the cluster view', refresh().finally(() => { if (!stopped) tick() }))
    }, init.refreshMs ?? 1000)
    timer.unref()
  }

  const onMessage = (evt: Event): void => {
    const detail = (evt as CustomEvent<NodeMessageDetail>).detail
    const session = core?.context.state.sessions.get(detail.nodeId)
    if (session == null) return
    // the JSON as the sending instance wrote it: not parsed and serialised again here
    if (detail.payload != null) core?.context.sendEncodedNow(session, detail.payload)
    else core?.context.sendNow(session, detail.message as OrchestratorMessage)
  }
  const onTaken = (evt: Event): void => {
    const { nodeId } = (evt as CustomEvent<{ nodeId: string }>).detail
    const state = core?.context.state
    const session = state?.sessions.get(nodeId)
    if (state == null || session == null) return
    state.sessions.delete(nodeId)
    state.dropReady(nodeId, session)
    session.nodeId = null // its close must not mark the node offline: it lives on another instance now
    try {
      session.connection.close(CLOSE_CODES.replaced, 'replaced by a connection to another instance')
    } catch (err) {
      log.debug({ nodeId, err: (err as Error).message }, 'closing a taken-over connection failed')
    }
  }
  const onBroadcast = (evt: Event): void => {
    const { topic, data, from } = (evt as CustomEvent<BroadcastDetail>).detail
    if (core == null || data == null) return
    const c = core
    if (topic === 'placement:dirty' || topic === 'placement:pins') {
      // the view of the other instances' nodes is at most `refreshMs` old: no read here (one hint per pin call)
      if (!lease.isLeader) return
      // placement:dirty is one workspace (and its cids, from an instance before placement:pins); placement:pins blocks of them
      for (const block of topic === 'placement:pins' ? data.split('\n\n') : [data]) {
        const [ws, ...cids] = block.split('\n')
        if (cids.length > 0) for (const cid of cids) c.replication.schedulePin(ws, cid)
        else if (topic === 'placement:dirty') c.replication.schedule(ws)
      }
    } else if (topic === 'members') {
      // our own change is in our state already: a reload here could land after a later change
      // of ours and put back the members it read before that one
      if (from === instanceId) return
      const { ws, joined } = JSON.parse(data) as { ws: string, joined?: string }
      // one reload at a time per workspace, in notification order: the last one applied read last
      background('reloading members', memberReloads.run(ws, async () => {
        const members = new Set(await c.store.listMemberIds(ws))
        c.context.state.members.set(ws, members)
        for (const [id, session] of c.context.state.sessions) {
          if (!members.has(id)) c.context.state.dropReadyIn(ws, id)
          else if (id === joined) await c.bootstrap.sendJoined(c.context.direct, session, ws)
        }
      }))
    } else if (topic === 'key-rotated') {
      const state = c.context.state
      for (const id of state.remoteReady.get(data) ?? []) { state.ready.get(data)?.delete(id); state.peerAddrs.get(data)?.delete(id) }
      background('sending a new key', (async () => {
        for (const id of state.members.get(data) ?? []) {
          const session = state.sessions.get(id)
          if (session == null || !session.ready.has(data)) continue
          state.dropReadyIn(data, id)
          await c.bootstrap.sendJoined(c.context.direct, session, data)
        }
      })())
    }
  }
  const onGone = (evt: Event): void => { view.gone((evt as CustomEvent<string[] | '*'>).detail) }
  // notifications were missed while the listener was away: read everything once
  const onListening = (): void => { view.resync() }
  const onAcquired = (): void => {
    log.info({ instanceId }, 'this instance leads placement now')
    if (core != null) {
      const c = core
      background('placing as the new leader', (async () => { await refresh(); c.replication.scheduleAll() })())
    }
  }
  const onLost = (): void => { log.warn({ instanceId }, 'this instance lost the placement lease') }

  return {
    link,
    instanceId,
    bus,
    lease,
    refresh,
    async settle (timeoutMs = 5000) {
      if (lease.isLeader || await lease.holder() != null) return
      try {
        await lease.waitUntilLeader({ signal: AbortSignal.timeout(timeoutMs) })
      } catch (err) {
        // another instance won the lease meanwhile (or the server is slow): this one follows
        log.debug({ err: (err as Error).message }, 'not leading after start')
      }
    },
    attach (c) {
      core = c
      relay = createEventRelay({ bus, subscribe: (l) => c.onChange(l), deliver: (e) => { c.context.emitNow(e) }, logger: log })
      bus.addEventListener('node-message', onMessage)
      bus.addEventListener('node-taken', onTaken)
      bus.addEventListener('broadcast', onBroadcast)
      bus.addEventListener('rows-gone', onGone)
      bus.addEventListener('listening', onListening)
      lease.addEventListener('acquired', onAcquired)
      lease.addEventListener('lost', onLost)
      lease.start()
      background('first cluster refresh', refresh())
      tick()
    },
    async stop () {
      stopped = true
      clearTimeout(timer)
      clearTimeout(hintTimer)
      sendHints()
      await lease.stop()
      await Promise.all([...work])
      await relay?.stop()
      await bus.stop()
      await pool.end()
    }
  }
}
