/**
 * The message bus between orchestrator instances on one PostgreSQL: a node's
 * WebSocket session lives on one instance, and a message for it made on
 * another (an admin API call, the placement leader) must reach it.
 *
 * - `cluster_node_holders` says which instance holds each node's session
 *   ({@link ClusterBus.hold} when a node authenticates, `release` when it leaves).
 * - A message for a node held elsewhere is a row in `cluster_messages`
 *   addressed to the holding instance, plus a `NOTIFY` carrying only
 *   `{ to, id }` (messages sent together share one statement and one NOTIFY per instance, `bus-outbox.ts`): NOTIFY payloads are limited to 8000 bytes, rows are not.
 *   The holder drains its rows in id order (one `DELETE ... RETURNING`), so
 *   messages arrive in order and exactly once; after a reconnect it drains
 *   what it missed while it was not listening.
 * - {@link ClusterBus.broadcast} is a small NOTIFY to every instance, for
 *   events such as "workspace X changed" (send ids, not data).
 * - An instance is alive while its listening session is: the server knows,
 *   no clocks are compared ({@link ClusterBus.onlineNodes}). All instances
 *   must connect as the same role (or one with pg_read_all_stats) to see it.
 */
import pg from 'pg'
import { InvalidArgumentError } from '../../errors.js'
import { migrate } from './postgres-migrations.js'
import { checkConnectionString, describeConnection, PG_TYPES } from './postgres-store.js'
import { throwIfAborted } from '../../util/abort.js'
import { BusOutbox } from './bus-outbox.js'
import type { OrchestratorLogger } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'

export const CLUSTER_MIGRATIONS: string[] = [
  `
  CREATE TABLE cluster_node_holders (
    node_id TEXT COLLATE "C" PRIMARY KEY,
    instance_id TEXT COLLATE "C" NOT NULL,
    since BIGINT NOT NULL
  );
  CREATE INDEX cluster_node_holders_instance ON cluster_node_holders(instance_id);
  CREATE TABLE cluster_messages (
    id BIGSERIAL PRIMARY KEY,
    instance_id TEXT COLLATE "C" NOT NULL,
    node_id TEXT COLLATE "C" NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX cluster_messages_instance ON cluster_messages(instance_id, id);
  `,
  // which held nodes sent ipfs_ready for the current key of a workspace (the leader plans with every instance's ready nodes)
  `
  CREATE TABLE cluster_ready (
    workspace_id TEXT COLLATE "C" NOT NULL,
    node_id TEXT COLLATE "C" NOT NULL,
    instance_id TEXT COLLATE "C" NOT NULL,
    addresses TEXT NOT NULL,
    PRIMARY KEY (workspace_id, node_id)
  );
  `
]

export const BUS_CHANNEL = 'otherthing_bus'
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
export const MAX_NOTIFY_BYTES = 7999
/** `application_name` of each instance's listening session: this prefix and the instance id. */
export const BUS_APP_PREFIX = 'otherthing-bus:'
const APP_PREFIX = BUS_APP_PREFIX
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint'

export interface ClusterBusInit {
  connectionString: string
  /** This instance (1 to 50 characters), unique among those sharing the database. */
  instanceId: string
  /**
   * Messages no instance claimed (their holder died) are deleted after this long, in ms.
   * @default 600000
   */
  messageTtlMs?: number
  /**
   * Pause before the listener reconnects after losing its connection, in ms.
   * @default 500
   */
  reconnectMs?: number
  /** @default silent */
  logger?: OrchestratorLogger
}

/** A message for a node: `message` is parsed when read; `payload` (not enumerable) is the JSON text as sent, to pass on as it is. */
export interface NodeMessageDetail { nodeId: string, message: unknown, readonly payload?: string }

/** A {@link NodeMessageDetail} over the JSON text: parsed only if someone reads `message`. */
function messageDetail (nodeId: string, payload: string): NodeMessageDetail {
  let parsed: { value: unknown } | undefined
  const detail = { nodeId } as NodeMessageDetail
  Object.defineProperty(detail, 'message', { enumerable: true, get: () => (parsed ??= { value: JSON.parse(payload) }).value })
  Object.defineProperty(detail, 'payload', { enumerable: false, value: payload })
  return detail
}
export interface BroadcastDetail { topic: string, data: string | undefined, from: string }

/**
 * Events: `'node-message'` (`CustomEvent<NodeMessageDetail>`) for a node this
 * instance holds, `'broadcast'` (`CustomEvent<BroadcastDetail>`), `'node-taken'`
 * (`CustomEvent<{ nodeId, by }>`: the node's session moved to another instance:
 * close the old socket), `'listening'` each time the listener (re)connects,
 * `'rows-gone'` (`CustomEvent<string[] | '*'>`: holder or ready rows of these
 * nodes were deleted, `'*'` for too many to list; sent by the cluster view's triggers).
 */
export interface ClusterBus extends EventTarget {
  readonly instanceId: string
  start(options?: AbortOptions): Promise<void>
  stop(): Promise<void>
  /** This instance holds the node's session now (taking it over from whichever held it). */
  hold(nodeId: string, options?: AbortOptions): Promise<void>
  /** Lets go of the node, if this instance still holds it. */
  release(nodeId: string, options?: AbortOptions): Promise<void>
  holderOf(nodeId: string, options?: AbortOptions): Promise<string | undefined>
  /**
   * Delivers a JSON-serialisable message to the instance holding the node:
   * `'local'` when that is this one (dispatched at once), `'remote'` when it
   * was queued for another, `'offline'` when no instance holds the node.
   */
  sendToNode(nodeId: string, message: unknown, options?: AbortOptions): Promise<'local' | 'remote' | 'offline'>
  /** A small event to every instance, this one included. */
  broadcast(topic: string, data?: string, options?: AbortOptions): Promise<void>
  /** The nodes held by instances whose listener is connected now, with their holder. */
  onlineNodes(options?: AbortOptions): Promise<Map<string, string>>
}

const silent: OrchestratorLogger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * @example
 * ```ts
 * const bus = createClusterBus({ connectionString: process.env.DATABASE_URL, instanceId: 'orch-a' })
 * bus.addEventListener('node-message', (evt) => {
 *   const { nodeId, message } = (evt as CustomEvent<NodeMessageDetail>).detail
 *   sessions.get(nodeId)?.send(JSON.stringify(message))
 * })
 * await bus.start()
 * await bus.hold('node-1')              // node-1 authenticated on this instance
 * await bus.sendToNode('node-2', { type: 'pin_content', cid })  // wherever node-2 is
 * ```
 */
export function createClusterBus (init: ClusterBusInit): ClusterBus {
  checkConnectionString(init.connectionString)
  if (init.instanceId.length === 0 || init.instanceId.length > 50) throw new InvalidArgumentError('instanceId must be 1 to 50 characters')
  return new PostgresBus(init)
}

function checkNodeId (nodeId: string): void {
  if (typeof nodeId !== 'string' || nodeId.length === 0 || nodeId.length > 200) throw new InvalidArgumentError('nodeId must be 1 to 200 characters')
}

class PostgresBus extends EventTarget implements ClusterBus {
  readonly instanceId: string
  readonly #init: ClusterBusInit
  readonly #log: OrchestratorLogger
  readonly #pool: pg.Pool
  readonly #outbox: BusOutbox
  #listener: pg.Client | undefined
  #running = false
  #held = new Set<string>()
  #draining: Promise<void> | undefined
  #drainAgain = false
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined

  constructor (init: ClusterBusInit) {
    super()
    this.#init = init
    this.instanceId = init.instanceId
    this.#log = init.logger ?? silent
    this.#pool = new pg.Pool({ connectionString: init.connectionString, max: 4, types: PG_TYPES })
    this.#outbox = new BusOutbox(this.#pool, BUS_CHANNEL)
    this.#pool.on('error', (err) => { this.#log.warn({ err: err.message }, 'idle bus connection lost') })
  }

  async start (options?: AbortOptions): Promise<void> {
    throwIfAborted(options?.signal)
    if (this.#running) return
    const client = await this.#pool.connect()
    try {
      await migrate(client, 'cluster', CLUSTER_MIGRATIONS)
      await client.query(`DELETE FROM cluster_messages WHERE created_at < ${NOW_MS} - $1`, [this.#init.messageTtlMs ?? 600_000])
    } finally {
      client.release()
    }
    this.#running = true
    try {
      await this.#listen()
    } catch (err) {
      this.#running = false
      clearTimeout(this.#reconnectTimer)
      this.#listener = undefined
      await this.#pool.end()
      throw err
    }
  }

  async stop (): Promise<void> {
    if (!this.#running) return
    this.#running = false
    clearTimeout(this.#reconnectTimer)
    const listener = this.#listener
    this.#listener = undefined
    await listener?.end().catch((err: Error) => { this.#log.debug({ err: err.message }, 'bus listener already closed') })
    await this.#draining
    if (this.#held.size > 0) {
      await this.#pool.query('DELETE FROM cluster_node_holders WHERE instance_id = $1 AND node_id = ANY($2)', [this.instanceId, [...this.#held]])
        .catch((err: Error) => { this.#log.warn({ err: err.message }, 'could not release held nodes (they show offline anyway)') })
      this.#held.clear()
    }
    await this.#pool.end()
  }

  /** Connects the listening session; on loss, reconnects and drains what arrived meanwhile. */
  async #listen (): Promise<void> {
    const client = new pg.Client({ connectionString: this.#init.connectionString, application_name: APP_PREFIX + this.instanceId, keepAlive: true })
    client.on('notification', (msg) => { this.#onNotification(msg.payload) })
    const lost = (err?: Error): void => {
      if (!this.#running || this.#listener !== client) return
      this.#log.warn({ instanceId: this.instanceId, err: err?.message ?? 'connection ended', server: describeConnection(this.#init.connectionString) }, 'bus listener lost, reconnecting')
      this.#listener = undefined
      client.end().catch((endErr: Error) => { this.#log.debug({ err: endErr.message }, 'bus listener already closed') })
      this.#scheduleReconnect()
    }
    client.on('error', lost)
    client.on('end', () => { lost() })
    this.#listener = client
    await client.connect()
    await client.query(`LISTEN ${BUS_CHANNEL}`)
    this.dispatchEvent(new Event('listening'))
    // whatever was sent while no session of ours listened
    this.#drain()
  }

  #scheduleReconnect (): void {
    if (this.#reconnectTimer != null) return
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined
      if (!this.#running) return
      this.#listen().catch((err: Error) => {
        this.#log.warn({ instanceId: this.instanceId, err: err.message }, 'bus listener could not reconnect')
        this.#listener = undefined
        this.#scheduleReconnect()
      })
    }, this.#init.reconnectMs ?? 500)
  }

  #onNotification (payload: string | undefined): void {
    let note: { k?: string, to?: string, topic?: string, data?: string, from?: string, node?: string, n?: string[] | '*' }
    try {
      note = JSON.parse(payload ?? '')
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'unreadable bus notification')
      return
    }
    if (note.k === 'm' && note.to === this.instanceId) this.#drain()
    else if (note.k === 'b' && typeof note.topic === 'string' && typeof note.from === 'string') {
      this.dispatchEvent(new CustomEvent<BroadcastDetail>('broadcast', { detail: { topic: note.topic, data: note.data, from: note.from } }))
    } else if (note.k === 'g' && note.n != null) {
      // rows of these nodes were deleted (a trigger of the cluster view's, `cluster/cluster-view.ts`)
      this.dispatchEvent(new CustomEvent('rows-gone', { detail: note.n }))
    } else if (note.k === 't' && note.to === this.instanceId && typeof note.node === 'string') {
      this.#held.delete(note.node)
      this.dispatchEvent(new CustomEvent('node-taken', { detail: { nodeId: note.node, by: note.from } }))
    }
  }

  /** Claims this instance's queued messages in id order; notifications during a drain run one more. */
  #drain (): void {
    if (this.#draining != null) { this.#drainAgain = true; return }
    this.#draining = (async () => {
      do {
        this.#drainAgain = false
        const res = await this.#pool.query<{ id: number, node_id: string, payload: string }>({
          name: 'busDrain', text: 'DELETE FROM cluster_messages WHERE instance_id = $1 RETURNING id, node_id, payload', values: [this.instanceId]
        })
        for (const row of res.rows.sort((a, b) => a.id - b.id)) {
          // a node that left meanwhile gets its state from its next sync, as with one instance
          if (!this.#held.has(row.node_id)) continue
          this.#deliver(row.node_id, row.payload)
        }
      } while (this.#drainAgain && this.#running)
    })().catch((err: Error) => {
      this.#log.error({ instanceId: this.instanceId, err: err.message }, 'bus drain failed; messages stay queued for the next one')
    }).finally(() => { this.#draining = undefined })
  }

  #deliver (nodeId: string, payload: string): void {
    this.dispatchEvent(new CustomEvent<NodeMessageDetail>('node-message', { detail: messageDetail(nodeId, payload) }))
  }

  async hold (nodeId: string, options?: AbortOptions): Promise<void> {
    throwIfAborted(options?.signal)
    checkNodeId(nodeId)
    // before the row commits: a message sent right after must find the node held when it is drained
    const wasHeld = this.#held.has(nodeId)
    this.#held.add(nodeId)
    const res = await this.#pool.query<{ previous: string | null }>(`
      WITH previous AS (SELECT instance_id FROM cluster_node_holders WHERE node_id = $1 FOR UPDATE),
      upsert AS (
        INSERT INTO cluster_node_holders (node_id, instance_id, since) VALUES ($1, $2, ${NOW_MS})
        ON CONFLICT (node_id) DO UPDATE SET instance_id = excluded.instance_id, since = excluded.since
      )
      SELECT (SELECT instance_id FROM previous) AS previous,
        CASE WHEN (SELECT instance_id FROM previous) IS DISTINCT FROM $2 AND (SELECT instance_id FROM previous) IS NOT NULL
          THEN pg_notify($3, json_build_object('k', 't', 'to', (SELECT instance_id FROM previous), 'node', $1::text, 'from', $2::text)::text) END`,
    [nodeId, this.instanceId, BUS_CHANNEL]).catch((err: Error) => {
      if (!wasHeld) this.#held.delete(nodeId)
      throw err
    })
    const previous = res.rows[0]?.previous
    if (previous != null && previous !== this.instanceId) this.#log.info({ nodeId, from: previous }, 'node session taken over')
  }

  async release (nodeId: string, options?: AbortOptions): Promise<void> {
    throwIfAborted(options?.signal)
    this.#held.delete(nodeId)
    await this.#pool.query('DELETE FROM cluster_node_holders WHERE node_id = $1 AND instance_id = $2', [nodeId, this.instanceId])
  }

  async holderOf (nodeId: string, options?: AbortOptions): Promise<string | undefined> {
    throwIfAborted(options?.signal)
    const res = await this.#pool.query<{ instance_id: string }>('SELECT instance_id FROM cluster_node_holders WHERE node_id = $1', [nodeId])
    return res.rows[0]?.instance_id
  }

  async sendToNode (nodeId: string, message: unknown, options?: AbortOptions): Promise<'local' | 'remote' | 'offline'> {
    throwIfAborted(options?.signal)
    checkNodeId(nodeId)
    const payload = JSON.stringify(message)
    if (payload === undefined) throw new InvalidArgumentError('The message is not JSON-serialisable')
    if (this.#held.has(nodeId)) {
      this.#deliver(nodeId, payload)
      return 'local'
    }
    const to = await this.#outbox.send(nodeId, payload)
    if (to == null) return 'offline'
    // held by this instance after all (another session of ours took it): the drain delivers it
    return to === this.instanceId ? 'local' : 'remote'
  }

  async broadcast (topic: string, data?: string, options?: AbortOptions): Promise<void> {
    throwIfAborted(options?.signal)
    const payload = JSON.stringify({ k: 'b', topic, from: this.instanceId, ...(data !== undefined ? { data } : {}) })
    if (Buffer.byteLength(payload) > MAX_NOTIFY_BYTES) {
      throw new InvalidArgumentError(`A broadcast must stay under ${MAX_NOTIFY_BYTES} bytes (send ids, not data)`)
    }
    await this.#pool.query({ name: 'busBroadcast', text: 'SELECT pg_notify($1, $2)', values: [BUS_CHANNEL, payload] })
  }

  async onlineNodes (options?: AbortOptions): Promise<Map<string, string>> {
    throwIfAborted(options?.signal)
    const res = await this.#pool.query<{ node_id: string, instance_id: string }>(`
      SELECT h.node_id, h.instance_id FROM cluster_node_holders h
      WHERE h.instance_id IN (SELECT substr(application_name, ${APP_PREFIX.length + 1}) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE '${APP_PREFIX}%')
      ORDER BY h.node_id`)
    return new Map(res.rows.map(r => [r.node_id, r.instance_id]))
  }
}
