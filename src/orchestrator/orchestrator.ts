/**
 * The orchestrator: workspace keys, node authentication, peer bootstrap,
 * pin placement and re-pinning, over a WebSocket server that shares its
 * HTTP(S) server with the admin API.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { WebSocketServer } from 'ws'
import type { WebSocket, RawData } from 'ws'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { ConflictError, InvalidArgumentError, InvalidCidError, InvalidMessageError, NotFoundError, NotStartedError, UnauthorizedError } from '../errors.js'
import { validateWorkspaceId } from '../storage/workspace-id.js'
import { generateSwarmKey, parseSwarmKey } from '../swarm-key/index.js'
import { MAX_FRAME_BYTES, MAX_PEER_ADDRESSES, PROTOCOL_VERSION, encodeMessage, multiaddrSchema, parseNodeMessage } from '../protocol/index.js'
import type { ContentPinnedMessage, ContentUnpinnedMessage, IpfsReadyMessage, NodeMessage, OrchestratorMessage, PinFailedMessage, PinSyncMessage, StorageReportMessage } from '../protocol/index.js'
import { buildAdminApp } from './admin-api.js'
import { chooseNodes, chooseSurplus, targetCopies } from './placement.js'
import { openOrchestratorStore } from './store.js'
import type { AllocationRow, AllocationState, NodeRow, OrchestratorStore, PinRow, WorkspaceRow } from './store.js'
import { generateToken, hashToken, tokenMatches } from './tokens.js'
import type {
  AllocationInfo, CreatedNode, KeyRotation, NodeInfo, NodeStorage, Orchestrator, OrchestratorAddresses, OrchestratorEvent,
  OrchestratorGatewayInit, OrchestratorInit, OrchestratorLogger, PinRequest, PinStatus, WorkspaceInfo, WorkspaceStatus
} from './types.js'
import type { WorkspaceGateway } from '../dashboard/types.js'

/** File name of the database inside `dataDir`. */
export const DATABASE_FILE_NAME = 'otherthing-orchestrator.db'

/** WebSocket close codes the orchestrator uses. */
export const CLOSE_CODES = {
  goingAway: 1001,
  invalidMessage: 4000,
  unauthorized: 4001,
  protocolVersion: 4002,
  replaced: 4003,
  authTimeout: 4008
} as const

/** Error `code` sent when `hello.protocol_version` is not supported. */
export const ERR_PROTOCOL_VERSION = 'ERR_PROTOCOL_VERSION'

const ACTIVE: ReadonlySet<AllocationState> = new Set(['queued', 'pinning', 'pinned'])

/** `bootstrap_update`s of one workspace go out at most this often: the nodes that became ready meanwhile, in one message. */
export const BOOTSTRAP_COALESCE_MS = 100

const silentLogger: OrchestratorLogger = { debug () {}, info () {}, warn () {}, error () {} }

interface Session {
  ws: WebSocket
  nodeId: string | null
  /** Workspaces whose node has sent `ipfs_ready` for the current key. */
  ready: Set<string>
  alive: boolean
  authTimer?: NodeJS.Timeout
}

/**
 * Creates an orchestrator. Nothing opens until `start()`.
 *
 * @example
 * ```ts
 * const orch = createOrchestrator({ dataDir: './state', port: 7420 })
 * const { url, adminUrl } = await orch.start()
 * const ws = orch.createWorkspace({ name: 'Team' })
 * const { node, token } = orch.createNode({ name: 'laptop' })
 * orch.addMember(ws.id, node.id)
 * ```
 */
export function createOrchestrator (init: OrchestratorInit = {}): Orchestrator {
  return new DefaultOrchestrator(init)
}

class DefaultOrchestrator implements Orchestrator {
  readonly adminToken: string
  readonly #init: OrchestratorInit
  readonly #log: OrchestratorLogger
  readonly #repinGraceMs: number
  readonly #maxBootstrapPeers: number
  readonly #listeners = new Set<(event: OrchestratorEvent) => void>()

  #store: OrchestratorStore | null = null
  #app: FastifyInstance | null = null
  #wss: WebSocketServer | null = null
  #heartbeat?: NodeJS.Timeout
  #startedAt = 0

  /** Authenticated sessions by node id. */
  readonly #sessions = new Map<string, Session>()
  /** Every open socket, authenticated or not. */
  readonly #sockets = new Set<Session>()
  /** Member node ids per workspace (mirror of the memberships table). */
  readonly #members = new Map<string, Set<string>>()
  /** Ready node ids per workspace. */
  readonly #ready = new Map<string, Set<string>>()
  /** Announced addresses of ready nodes, per workspace. */
  readonly #peerAddrs = new Map<string, Map<string, string[]>>()
  /** Free bytes per node: last report minus what was allocated since. */
  readonly #free = new Map<string, number>()
  /** When each offline node went offline (or when this orchestrator started). */
  readonly #offlineSince = new Map<string, number>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #dirtyWorkspaces = new Set<string>()
  #placementTimer?: NodeJS.Timeout
  /** Nodes that became ready since the last bootstrap flush, per workspace. */
  readonly #pendingBootstrap = new Map<string, Set<string>>()
  #bootstrapTimer?: NodeJS.Timeout
  #gateway: WorkspaceGateway | undefined

  constructor (init: OrchestratorInit) {
    this.#init = init
    this.#log = init.logger ?? silentLogger
    this.#repinGraceMs = init.repinGraceMs ?? 600_000
    this.#maxBootstrapPeers = init.maxBootstrapPeers ?? 32
    this.adminToken = init.adminToken ?? generateToken()
    if (this.adminToken.length < 16) {
      throw new InvalidArgumentError('adminToken must be at least 16 characters')
    }
  }

  // ---- lifecycle -----------------------------------------------------------

  async start (): Promise<OrchestratorAddresses> {
    if (this.#store != null) throw new ConflictError('Orchestrator already started')
    const dbPath = this.#init.databasePath ?? join(this.#init.dataDir ?? process.cwd(), DATABASE_FILE_NAME)
    const store = openOrchestratorStore({ path: dbPath })
    this.#store = store
    this.#startedAt = Date.now()
    try {
      for (const ws of store.listWorkspaces()) {
        this.#members.set(ws.id, new Set(store.listMemberIds(ws.id)))
      }
      // the orchestrator's own downtime does not count against the nodes: a node
      // that was online when it stopped starts its grace period now, one that
      // was already offline for X ms is offline for X ms now
      const lastAlive = Number(store.getMeta('last_alive') ?? this.#startedAt)
      const downtime = Math.max(0, this.#startedAt - lastAlive)
      for (const node of store.listNodes()) {
        const since = node.last_seen == null ? this.#startedAt : Math.min(this.#startedAt, node.last_seen + downtime)
        this.#offlineSince.set(node.id, since)
        if (node.storage_free != null) this.#free.set(node.id, node.storage_free)
      }
      store.setMeta('last_alive', String(this.#startedAt))
      // after the grace period, place the pins of nodes that never came back
      this.#later(this.#repinGraceMs + 10, () => { this.#scheduleAllWorkspaces() })

      if (this.#init.gateway != null) this.#gateway = await this.#createGateway(this.#init.gateway)

      const app = buildAdminApp(this, { adminToken: this.adminToken, tls: this.#init.tls })
      this.#app = app
      for (const plugin of this.#init.plugins ?? []) await plugin(app, this)
      let dashboardPrefix: string | undefined
      if (this.#init.dashboard != null && this.#init.dashboard !== false) {
        const { registerDashboard } = await import('../dashboard/routes.js')
        const options = this.#init.dashboard === true ? {} : this.#init.dashboard
        registerDashboard(app, { secureCookie: this.#init.tls != null, ...options, orchestrator: this, gateway: this.#gateway })
        dashboardPrefix = (options.prefix ?? '/dashboard').replace(/\/+$/, '')
        const target = `${dashboardPrefix}/`
        if (dashboardPrefix !== '') app.get('/', async (_req, reply) => await reply.redirect(target))
      }
      const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES })
      this.#wss = wss
      const wsPath = this.#init.wsPath ?? '/ws'
      app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const path = (req.url ?? '').split('?')[0]
        if (path !== wsPath || this.#wss == null) {
          socket.write('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
          socket.destroy()
          return
        }
        socket.on('error', () => {})
        wss.handleUpgrade(req, socket, head, (ws) => { this.#onConnection(ws) })
      })
      await app.listen({ host: this.#init.host ?? '127.0.0.1', port: this.#init.port ?? 7420, backlog: 2048 })
      const heartbeatMs = this.#init.heartbeatMs ?? 30_000
      this.#heartbeat = setInterval(() => { this.#beat() }, heartbeatMs)
      this.#heartbeat.unref()

      const address = app.server.address()
      if (address == null || typeof address === 'string') throw new Error('Server has no TCP address')
      const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address
      const secure = this.#init.tls != null
      const adminUrl = `${secure ? 'https' : 'http'}://${host}:${address.port}`
      const addresses: OrchestratorAddresses = {
        url: `${secure ? 'wss' : 'ws'}://${host}:${address.port}${wsPath}`,
        adminUrl,
        ...(dashboardPrefix !== undefined ? { dashboardUrl: `${adminUrl}${dashboardPrefix}/` } : {})
      }
      // the gateway is a member of every workspace from the start
      if (this.#gateway != null) await Promise.all(store.listWorkspaces().map(async w => { await this.#joinGateway(w.id) }))
      this.#log.info({ ...addresses, database: dbPath === ':memory:' ? dbPath : 'file' }, 'orchestrator started')
      return addresses
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.#heartbeat != null) clearInterval(this.#heartbeat)
    if (this.#placementTimer != null) clearTimeout(this.#placementTimer)
    this.#placementTimer = undefined
    if (this.#bootstrapTimer != null) clearTimeout(this.#bootstrapTimer)
    this.#bootstrapTimer = undefined
    this.#pendingBootstrap.clear()
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.#dirtyWorkspaces.clear()
    const sockets = [...this.#sockets]
    for (const s of sockets) {
      if (s.authTimer != null) clearTimeout(s.authTimer)
      try { s.ws.close(CLOSE_CODES.goingAway, 'orchestrator stopping') } catch {}
    }
    await Promise.all(sockets.map(async s => await new Promise<void>(resolve => {
      if (s.ws.readyState === s.ws.CLOSED) { resolve(); return }
      const t = setTimeout(() => { s.ws.terminate(); resolve() }, 1000)
      s.ws.once('close', () => { clearTimeout(t); resolve() })
    })))
    this.#wss?.close()
    this.#wss = null
    if (this.#app != null) {
      const app = this.#app
      this.#app = null
      await app.close()
    }
    if (this.#gateway != null) {
      const gateway = this.#gateway
      this.#gateway = undefined
      await gateway.stop().catch((err: Error) => { this.#log.warn({ err: err.message }, 'stopping the gateway failed') })
    }
    // closing sockets marked the nodes offline in the database
    try { this.#store?.setMeta('last_alive', String(Date.now())) } catch {}
    this.#sessions.clear()
    this.#sockets.clear()
    this.#members.clear()
    this.#ready.clear()
    this.#peerAddrs.clear()
    this.#free.clear()
    this.#offlineSince.clear()
    this.#store?.close()
    this.#store = null
  }

  // ---- library API ---------------------------------------------------------

  onChange (listener: (event: OrchestratorEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  get gateway (): WorkspaceGateway | undefined {
    return this.#gateway
  }

  swarmKeyFor (workspaceId: string): string {
    return this.#workspaceRow(workspaceId).swarm_key
  }

  announceBootstrapPeers (workspaceId: string): void {
    const ws = this.#workspaceRow(workspaceId)
    const extra = this.#extraPeers(ws.id)
    if (extra.length === 0) return
    for (const nodeId of this.#ready.get(ws.id) ?? []) {
      const session = this.#sessions.get(nodeId)
      if (session != null) this.#send(session, { type: 'bootstrap_update', workspace_id: ws.id, peers: extra })
    }
  }

  createWorkspace (init: { id?: string, name: string }): WorkspaceInfo {
    const store = this.#db()
    const id = init.id ?? `ws-${randomBytes(6).toString('hex')}`
    validateWorkspaceId(id)
    if (typeof init.name !== 'string' || init.name.length === 0 || init.name.length > 256) {
      throw new InvalidArgumentError('Workspace name must be 1 to 256 characters')
    }
    // ids name folders on case-insensitive file systems too: refuse ids that differ only by case
    const lower = id.toLowerCase()
    if (store.listWorkspaces().some(w => w.id.toLowerCase() === lower)) {
      throw new ConflictError(`Workspace ${id} already exists`)
    }
    const row: WorkspaceRow = { id, name: init.name, swarm_key: generateSwarmKey(), key_version: 1, created_at: Date.now() }
    store.insertWorkspace(row)
    this.#members.set(id, new Set())
    if (this.#gateway != null) void this.#joinGateway(id)
    this.#emit({ type: 'workspace:created', workspaceId: id })
    this.#log.info({ workspaceId: id, keyFingerprint: parseSwarmKey(row.swarm_key).fingerprint }, 'workspace created')
    return this.#workspaceInfo(row)
  }

  listWorkspaces (): WorkspaceInfo[] {
    return this.#db().listWorkspaces().map(w => this.#workspaceInfo(w))
  }

  getWorkspace (workspaceId: string): WorkspaceInfo {
    return this.#workspaceInfo(this.#workspaceRow(workspaceId))
  }

  rotateKey (workspaceId: string): KeyRotation {
    const store = this.#db()
    const ws = this.#workspaceRow(workspaceId)
    const key = generateSwarmKey()
    const keyVersion = ws.key_version + 1
    store.setWorkspaceKey(ws.id, key, keyVersion)
    const keyFingerprint = parseSwarmKey(key).fingerprint
    this.#ready.get(ws.id)?.clear()
    this.#peerAddrs.get(ws.id)?.clear()
    for (const nodeId of this.#members.get(ws.id) ?? []) {
      const session = this.#sessions.get(nodeId)
      if (session == null) continue
      session.ready.delete(ws.id)
      this.#sendJoined(session, ws.id)
    }
    this.#emit({ type: 'workspace:key-rotated', workspaceId: ws.id, keyVersion, keyFingerprint })
    this.#log.info({ workspaceId: ws.id, keyVersion, keyFingerprint }, 'workspace key rotated')
    // the gateway rotates on the event above (new addresses): tell the members once it is done
    if (this.#gateway != null) void this.#joinGateway(ws.id)
    return { workspaceId: ws.id, keyVersion, keyFingerprint }
  }

  createNode (init: { name: string }): CreatedNode {
    const store = this.#db()
    if (typeof init.name !== 'string' || init.name.length === 0 || init.name.length > 256) {
      throw new InvalidArgumentError('Node name must be 1 to 256 characters')
    }
    const token = generateToken()
    const id = `node-${randomBytes(8).toString('hex')}`
    store.insertNode({ id, name: init.name, token_hash: hashToken(token), created_at: Date.now() })
    this.#offlineSince.set(id, Date.now())
    this.#emit({ type: 'node:created', nodeId: id })
    return { node: this.getNode(id), token }
  }

  listNodes (): NodeInfo[] {
    return this.#db().listNodes().map(n => this.#nodeInfo(n))
  }

  getNode (nodeId: string): NodeInfo {
    return this.#nodeInfo(this.#nodeRow(nodeId))
  }

  addMember (workspaceId: string, nodeId: string): void {
    const store = this.#db()
    const ws = this.#workspaceRow(workspaceId)
    this.#nodeRow(nodeId)
    if (!store.addMember(ws.id, nodeId, Date.now())) return
    this.#memberSet(ws.id).add(nodeId)
    this.#emit({ type: 'member:added', workspaceId: ws.id, nodeId })
    const session = this.#sessions.get(nodeId)
    if (session != null) this.#sendJoined(session, ws.id)
    this.#schedulePlacement(ws.id)
  }

  removeMember (workspaceId: string, nodeId: string, options: { purge?: boolean } = {}): void {
    const store = this.#db()
    const ws = this.#workspaceRow(workspaceId)
    if (!store.isMember(ws.id, nodeId)) throw new NotFoundError(`Node ${nodeId} is not a member of ${ws.id}`)
    store.transaction(() => {
      store.removeMember(ws.id, nodeId)
      store.deleteAllocationsOfNode(nodeId, ws.id)
    })
    this.#members.get(ws.id)?.delete(nodeId)
    this.#ready.get(ws.id)?.delete(nodeId)
    const session = this.#sessions.get(nodeId)
    if (session != null) {
      session.ready.delete(ws.id)
      this.#send(session, { type: 'workspace_left', workspace_id: ws.id, ...(options.purge === true ? { purge: true } : {}) })
    }
    this.#peerAddrs.get(ws.id)?.delete(nodeId)
    this.#emit({ type: 'member:removed', workspaceId: ws.id, nodeId })
    this.#schedulePlacement(ws.id)
  }

  pin (workspaceId: string, request: PinRequest): PinStatus {
    const store = this.#db()
    const ws = this.#workspaceRow(workspaceId)
    const cid = normaliseCid(request.cid)
    const min = request.replicationMin ?? 1
    const max = request.replicationMax ?? min
    checkPinRequest(request, min, max)
    const existing = store.getPin(ws.id, cid)
    const row = pinRow(ws.id, cid, request, existing, min, max, Date.now())
    store.transaction(() => {
      store.upsertPin(row)
      // pinning again is how an operator retries failed copies
      const allocations: AllocationRow[] = []
      for (const a of store.listAllocationsOfPin(ws.id, cid)) {
        if (a.state === 'failed') store.deleteAllocation(ws.id, cid, a.node_id)
        else allocations.push(a)
      }
      // the row as stored (upsertPin keeps a known size), without reading it back
      this.#placePin(ws.id, cid, { ...row, size: row.size ?? existing?.size ?? null }, allocations)
    })
    if (existing == null) this.#emit({ type: 'pin:added', workspaceId: ws.id, cid })
    return this.pinStatus(ws.id, cid)
  }

  pinOnNode (workspaceId: string, nodeId: string, request: PinRequest): PinStatus {
    const store = this.#db()
    const ws = this.#workspaceRow(workspaceId)
    this.#nodeRow(nodeId)
    if (!this.#isMember(ws.id, nodeId)) throw new NotFoundError(`Node ${nodeId} is not a member of ${ws.id}`)
    const cid = normaliseCid(request.cid)
    const existing = store.getPin(ws.id, cid)
    const min = request.replicationMin ?? existing?.replication_min ?? 1
    let max = request.replicationMax ?? existing?.replication_max ?? min
    checkPinRequest(request, min, max)
    const now = Date.now()
    const members = this.#memberSet(ws.id)
    store.transaction(() => {
      const allocations = store.listAllocationsOfPin(ws.id, cid)
      const mine = allocations.find(a => a.node_id === nodeId)
      const placeHere = mine == null || !ACTIVE.has(mine.state)
      if (placeHere && max !== -1) {
        // the chosen copy must not be the surplus: make room for it
        const others = allocations.filter(a => a.node_id !== nodeId && ACTIVE.has(a.state) && members.has(a.node_id) && this.#counts(a.node_id, now)).length
        max = Math.max(max, others + 1)
      }
      store.upsertPin(pinRow(ws.id, cid, request, existing, min, max, now))
      if (placeHere) {
        const session = this.#sessions.get(nodeId)
        const ready = session?.ready.has(ws.id) === true
        // an offline (or not yet ready) node gets it from its next pin_sync
        this.#setAllocation(ws.id, cid, nodeId, ready ? 'pinning' : 'queued', null, now)
        const free = this.#free.get(nodeId)
        const size = request.size ?? existing?.size
        if (free !== undefined && size != null) this.#free.set(nodeId, Math.max(0, free - size))
        if (ready && session != null) {
          const pin = store.getPin(ws.id, cid)
          if (pin != null) this.#send(session, this.#pinMessage(pin))
        }
      }
      this.#placePin(ws.id, cid)
    })
    if (existing == null) this.#emit({ type: 'pin:added', workspaceId: ws.id, cid })
    return this.pinStatus(ws.id, cid)
  }

  unpinOnNode (workspaceId: string, nodeId: string, cid: string): void {
    const store = this.#db()
    const ws = this.#workspaceRow(workspaceId)
    const key = normaliseCid(cid)
    const pin = store.getPin(ws.id, key)
    if (pin == null) throw new NotFoundError(`CID ${key} is not pinned in ${ws.id}`)
    const alloc = typeof nodeId === 'string' ? store.getAllocation(ws.id, key, nodeId) : undefined
    if (alloc == null || alloc.state === 'unpinning') throw new NotFoundError(`Node ${String(nodeId).slice(0, 80)} has no copy of ${key}`)
    if (alloc.state !== 'failed' && pin.replication_max === -1) {
      throw new ConflictError(`${key} wants a copy on every member: change its replication before unpinning it from one node`)
    }
    const now = Date.now()
    if (alloc.state !== 'failed') {
      // dropping this copy must leave replicationMin copies, counting the ones placement can add elsewhere
      const members = this.#memberSet(ws.id)
      const allocations = store.listAllocationsOfPin(ws.id, key)
      const remaining = allocations.filter(a => a.node_id !== nodeId && ACTIVE.has(a.state) && members.has(a.node_id) && this.#counts(a.node_id, now)).length
      const need = pin.replication_min - remaining
      if (need > 0) {
        const allocated = new Set(allocations.map(a => a.node_id))
        const candidates = [...(this.#ready.get(ws.id) ?? [])].filter(id => id !== nodeId && !allocated.has(id)).map(id => ({ nodeId: id, free: this.#free.get(id) }))
        if (chooseNodes(candidates, need, pin.size).length < need) {
          throw new ConflictError(`No other online member can take a copy of ${key} (it wants ${pin.replication_min}): unpin it from the workspace, or lower its replication`)
        }
      }
    }
    store.transaction(() => {
      if (alloc.state === 'failed') {
        this.#removeAllocation(ws.id, key, nodeId)
        return
      }
      const max = Math.max(pin.replication_min, pin.replication_max - 1)
      if (max !== pin.replication_max) store.upsertPin({ ...pin, replication_max: max })
      this.#setAllocation(ws.id, key, nodeId, 'unpinning', null, now)
      const session = this.#sessions.get(nodeId)
      if (session?.ready.has(ws.id) === true) this.#send(session, { type: 'unpin_content', workspace_id: ws.id, cid: key })
      // below replicationMin now: another member takes a copy
      this.#placePin(ws.id, key)
    })
  }

  unpin (workspaceId: string, cid: string): void {
    const store = this.#db()
    const ws = this.#workspaceRow(workspaceId)
    const key = normaliseCid(cid)
    if (store.getPin(ws.id, key) == null) throw new NotFoundError(`CID ${key} is not pinned in ${ws.id}`)
    const now = Date.now()
    const toSend: string[] = []
    store.transaction(() => {
      store.deletePin(ws.id, key)
      for (const a of store.listAllocationsOfPin(ws.id, key)) {
        if (a.state === 'failed') {
          store.deleteAllocation(ws.id, key, a.node_id)
          continue
        }
        store.setAllocation(ws.id, key, a.node_id, 'unpinning', null, now)
        toSend.push(a.node_id)
      }
    })
    for (const nodeId of toSend) {
      this.#emit({ type: 'allocation', workspaceId: ws.id, cid: key, nodeId, state: 'unpinning' })
      const session = this.#sessions.get(nodeId)
      if (session?.ready.has(ws.id) === true) this.#send(session, { type: 'unpin_content', workspace_id: ws.id, cid: key })
    }
    this.#emit({ type: 'pin:removed', workspaceId: ws.id, cid: key })
  }

  pinStatus (workspaceId: string, cid: string): PinStatus {
    const store = this.#db()
    const ws = this.#workspaceRow(workspaceId)
    const key = normaliseCid(cid)
    const pin = store.getPin(ws.id, key)
    if (pin == null) throw new NotFoundError(`CID ${key} is not pinned in ${ws.id}`)
    return this.#pinStatus(pin, store.listAllocationsOfPin(ws.id, key))
  }

  workspaceStatus (workspaceId: string): WorkspaceStatus {
    const store = this.#db()
    const ws = this.#workspaceRow(workspaceId)
    const peers = new Map(store.listPeers(ws.id).map(p => [p.node_id, p]))
    const nodes = store.listMemberIds(ws.id).map(id => {
      const node = this.#nodeInfo(this.#nodeRow(id))
      const peer = peers.get(id)
      return {
        id,
        name: node.name,
        online: node.online,
        lastSeen: node.lastSeen,
        peerId: peer?.peer_id ?? null,
        addresses: peer != null ? JSON.parse(peer.addresses) as string[] : [],
        storage: node.storage
      }
    })
    const storage = { used: 0, quota: 0, free: 0 }
    for (const n of nodes) {
      if (n.storage == null) continue
      storage.used += n.storage.used
      storage.quota += n.storage.quota
      storage.free += n.storage.free
    }
    const byPin = new Map<string, AllocationRow[]>()
    for (const a of store.listAllocationsOfWorkspace(ws.id)) {
      const list = byPin.get(a.cid)
      if (list == null) byPin.set(a.cid, [a])
      else list.push(a)
    }
    return {
      workspace: this.#workspaceInfo(ws),
      nodes,
      nodesOnline: nodes.filter(n => n.online).length,
      storage,
      pins: store.listPins(ws.id).map(p => this.#pinStatus(p, byPin.get(p.cid) ?? []))
    }
  }

  // ---- connections ---------------------------------------------------------

  #onConnection (ws: WebSocket): void {
    const session: Session = { ws, nodeId: null, ready: new Set(), alive: true }
    this.#sockets.add(session)
    session.authTimer = setTimeout(() => {
      if (session.nodeId == null) this.#refuse(session, 'ERR_TIMEOUT', 'No hello received in time', CLOSE_CODES.authTimeout)
    }, this.#init.authTimeoutMs ?? 10_000)
    ws.on('pong', () => { session.alive = true })
    ws.on('error', (err) => {
      // ws has already closed the socket (e.g. 1009 for an oversized frame)
      this.#log.warn({ nodeId: session.nodeId, err: err.message }, 'websocket error')
    })
    ws.on('close', () => { this.#onClose(session) })
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      try {
        this.#onFrame(session, raw, isBinary)
      } catch (err) {
        this.#log.error({ nodeId: session.nodeId, err: (err as Error).message }, 'message handler failed')
        this.#send(session, { type: 'error', code: 'ERR_INTERNAL', message: 'Internal error' })
      }
    })
  }

  #onFrame (session: Session, raw: RawData, isBinary: boolean): void {
    if (this.#store == null) return
    let msg: NodeMessage
    try {
      if (isBinary) throw new InvalidMessageError('Binary frames are not accepted')
      msg = parseNodeMessage(raw as Buffer)
    } catch (err) {
      const e = err as InvalidMessageError
      if (session.nodeId == null) {
        this.#refuse(session, e.code ?? 'ERR_INVALID_MESSAGE', e.message, CLOSE_CODES.invalidMessage)
      } else {
        this.#send(session, { type: 'error', code: e.code ?? 'ERR_INVALID_MESSAGE', message: e.message })
      }
      return
    }
    if (session.nodeId == null) {
      if (msg.type !== 'hello') {
        this.#refuse(session, new UnauthorizedError().code, 'The first message must be hello', CLOSE_CODES.unauthorized)
        return
      }
      this.#onHello(session, msg)
      return
    }
    const nodeId = session.nodeId
    switch (msg.type) {
      case 'hello':
        this.#send(session, { type: 'error', code: 'ERR_INVALID_MESSAGE', message: 'Already authenticated', in_reply_to: 'hello' })
        return
      case 'error':
        this.#log.warn({ nodeId, code: msg.code, message: msg.message }, 'node reported an error')
        return
      case 'storage_report':
        this.#onStorageReport(nodeId, msg)
        return
    }
    if (!this.#isMember(msg.workspace_id, nodeId)) {
      this.#send(session, { type: 'error', code: 'ERR_FORBIDDEN', message: 'Not a member of this workspace', in_reply_to: msg.type })
      return
    }
    switch (msg.type) {
      case 'ipfs_ready': this.#onIpfsReady(session, nodeId, msg); break
      case 'pin_sync': this.#onPinSync(session, nodeId, msg); break
      case 'content_pinned': this.#onContentPinned(session, nodeId, msg); break
      case 'pin_failed': this.#onPinFailed(nodeId, msg); break
      case 'content_unpinned': this.#onContentUnpinned(nodeId, msg); break
    }
  }

  #onHello (session: Session, msg: { protocol_version: number, token: string, node_name?: string }): void {
    const store = this.#db()
    if (msg.protocol_version !== PROTOCOL_VERSION) {
      this.#refuse(session, ERR_PROTOCOL_VERSION, `Protocol version ${PROTOCOL_VERSION} required`, CLOSE_CODES.protocolVersion)
      return
    }
    const node = store.getNodeByTokenHash(hashToken(msg.token))
    if (node == null || !tokenMatches(msg.token, node.token_hash)) {
      this.#refuse(session, new UnauthorizedError().code, 'Invalid token', CLOSE_CODES.unauthorized)
      return
    }
    if (session.authTimer != null) clearTimeout(session.authTimer)
    const previous = this.#sessions.get(node.id)
    if (previous != null) {
      previous.nodeId = null // its close must not mark the node offline
      this.#dropReady(node.id, previous)
      try { previous.ws.close(CLOSE_CODES.replaced, 'replaced by a newer connection') } catch {}
    }
    session.nodeId = node.id
    this.#sessions.set(node.id, session)
    this.#offlineSince.delete(node.id)
    store.touchNode(node.id, Date.now())
    this.#send(session, { type: 'welcome', node_id: node.id, protocol_version: PROTOCOL_VERSION })
    this.#log.info({ nodeId: node.id }, 'node connected')
    this.#emit({ type: 'node:online', nodeId: node.id })
    for (const wsId of store.listWorkspaceIdsOfNode(node.id)) {
      this.#sendJoined(session, wsId)
    }
  }

  #onClose (session: Session): void {
    if (session.authTimer != null) clearTimeout(session.authTimer)
    this.#sockets.delete(session)
    const nodeId = session.nodeId
    if (nodeId == null || this.#sessions.get(nodeId) !== session) return
    this.#sessions.delete(nodeId)
    this.#dropReady(nodeId, session)
    const now = Date.now()
    this.#offlineSince.set(nodeId, now)
    if (this.#store != null) this.#store.touchNode(nodeId, now)
    this.#log.info({ nodeId }, 'node disconnected')
    this.#emit({ type: 'node:offline', nodeId })
    if (this.#store == null) return
    const workspaces = this.#store.listWorkspaceIdsOfNode(nodeId)
    this.#later(this.#repinGraceMs + 5, () => {
      if (this.#sessions.has(nodeId)) return
      for (const ws of workspaces) this.#schedulePlacement(ws)
    })
  }

  #dropReady (nodeId: string, session: Session): void {
    for (const ws of session.ready) {
      this.#ready.get(ws)?.delete(nodeId)
      this.#peerAddrs.get(ws)?.delete(nodeId)
    }
    session.ready.clear()
  }

  #onIpfsReady (session: Session, nodeId: string, msg: IpfsReadyMessage): void {
    const store = this.#db()
    const addresses = msg.addresses.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${msg.peer_id}`)
    store.upsertPeer(msg.workspace_id, nodeId, msg.peer_id, addresses, Date.now())
    session.ready.add(msg.workspace_id)
    let ready = this.#ready.get(msg.workspace_id)
    if (ready == null) this.#ready.set(msg.workspace_id, ready = new Set())
    ready.add(nodeId)
    let addrs = this.#peerAddrs.get(msg.workspace_id)
    if (addrs == null) this.#peerAddrs.set(msg.workspace_id, addrs = new Map())
    addrs.set(nodeId, addresses)
    this.#emit({ type: 'peer:ready', workspaceId: msg.workspace_id, nodeId, peerId: msg.peer_id, addresses })
    this.#queueBootstrap(msg.workspace_id, nodeId)
  }

  #onPinSync (session: Session, nodeId: string, msg: PinSyncMessage): void {
    const store = this.#db()
    const ws = msg.workspace_id
    if (!session.ready.has(ws)) {
      this.#send(session, { type: 'error', code: 'ERR_INVALID_MESSAGE', message: 'pin_sync before ipfs_ready', in_reply_to: 'pin_sync' })
      return
    }
    const have = new Set<string>()
    for (const c of msg.cids) have.add(normaliseCid(c))
    const out: OrchestratorMessage[] = []
    const now = Date.now()
    store.transaction(() => {
      const known = new Set<string>()
      for (const a of store.listAllocationsOfNode(nodeId, ws)) {
        known.add(a.cid)
        if (ACTIVE.has(a.state)) {
          if (have.has(a.cid)) {
            if (a.state !== 'pinned') this.#setAllocation(ws, a.cid, nodeId, 'pinned', null, now)
          } else {
            const pin = store.getPin(ws, a.cid)
            if (pin == null) { store.deleteAllocation(ws, a.cid, nodeId); continue }
            this.#setAllocation(ws, a.cid, nodeId, 'pinning', null, now)
            out.push(this.#pinMessage(pin))
          }
        } else if (a.state === 'unpinning') {
          if (have.has(a.cid)) out.push({ type: 'unpin_content', workspace_id: ws, cid: a.cid })
          else this.#removeAllocation(ws, a.cid, nodeId)
        } else if (a.state === 'failed' && have.has(a.cid)) {
          this.#setAllocation(ws, a.cid, nodeId, 'pinned', null, now)
        }
      }
      for (const cid of have) {
        if (known.has(cid)) continue
        if (store.getPin(ws, cid) != null) this.#setAllocation(ws, cid, nodeId, 'pinned', null, now)
        else out.push({ type: 'unpin_content', workspace_id: ws, cid })
      }
    })
    for (const m of out) this.#send(session, m)
    this.#schedulePlacement(ws)
  }

  #onContentPinned (session: Session, nodeId: string, msg: ContentPinnedMessage): void {
    const store = this.#db()
    const ws = msg.workspace_id
    const cid = normaliseCid(msg.cid)
    const pin = store.getPin(ws, cid)
    const alloc = store.getAllocation(ws, cid, nodeId)
    if (pin == null || alloc?.state === 'unpinning') {
      if (alloc == null) store.setAllocation(ws, cid, nodeId, 'unpinning', null, Date.now())
      this.#send(session, { type: 'unpin_content', workspace_id: ws, cid })
      return
    }
    store.transaction(() => {
      if (pin.size == null) store.upsertPin({ ...pin, size: msg.size })
      this.#setAllocation(ws, cid, nodeId, 'pinned', null, Date.now())
    })
    if (alloc == null) this.#placePin(ws, cid)
  }

  #onPinFailed (nodeId: string, msg: PinFailedMessage): void {
    const store = this.#db()
    const ws = msg.workspace_id
    const cid = normaliseCid(msg.cid)
    const alloc = store.getAllocation(ws, cid, nodeId)
    if (alloc == null || alloc.state === 'unpinning') return
    this.#log.warn({ nodeId, workspaceId: ws, cid, code: msg.error.code }, 'pin failed')
    if (msg.error.code === 'ERR_QUOTA_EXCEEDED' || msg.error.code === 'ERR_DISK_RESERVE') this.#free.set(nodeId, 0)
    store.transaction(() => {
      this.#setAllocation(ws, cid, nodeId, 'failed', msg.error, Date.now())
      this.#placePin(ws, cid)
    })
  }

  #onContentUnpinned (nodeId: string, msg: ContentUnpinnedMessage): void {
    const store = this.#db()
    const cid = normaliseCid(msg.cid)
    const alloc = store.getAllocation(msg.workspace_id, cid, nodeId)
    if (alloc?.state !== 'unpinning') return
    this.#removeAllocation(msg.workspace_id, cid, nodeId)
    // the pin may still want copies (pinned again, or unpinned from this node alone): the node is a candidate again
    if (store.getPin(msg.workspace_id, cid) != null) this.#schedulePlacement(msg.workspace_id)
  }

  #onStorageReport (nodeId: string, msg: StorageReportMessage): void {
    const now = Date.now()
    const driveFree = msg.drive_free ?? null
    this.#db().setNodeStorage(nodeId, msg.used, msg.quota, msg.free, now, driveFree)
    const before = this.#free.get(nodeId)
    this.#free.set(nodeId, msg.free)
    this.#emit({ type: 'node:storage', nodeId, storage: { used: msg.used, quota: msg.quota, free: msg.free, driveFree, reportedAt: now } })
    // more room than we thought: pins that found no node may fit now
    if (before === undefined || msg.free > before) {
      for (const ws of this.#sessions.get(nodeId)?.ready ?? []) this.#schedulePlacement(ws)
    }
  }

  #refuse (session: Session, code: string, message: string, closeCode: number): void {
    this.#send(session, { type: 'error', code, message })
    try { session.ws.close(closeCode, message.slice(0, 100)) } catch {}
  }

  #send (session: Session, message: OrchestratorMessage): void {
    if (session.ws.readyState !== session.ws.OPEN) return
    session.ws.send(encodeMessage(message), (err) => {
      if (err != null) this.#log.debug({ nodeId: session.nodeId, err: err.message }, 'send failed')
    })
  }

  #sendJoined (session: Session, workspaceId: string): void {
    const ws = this.#db().getWorkspace(workspaceId)
    if (ws == null || session.nodeId == null || !this.#isMember(workspaceId, session.nodeId)) return
    this.#send(session, {
      type: 'workspace_joined',
      workspace_id: ws.id,
      ipfs_swarm_key: ws.swarm_key,
      bootstrap_peers: [...this.#extraPeers(ws.id), ...this.#onlinePeerAddresses(ws.id, session.nodeId)],
      key_version: ws.key_version
    })
    this.#log.info({ nodeId: session.nodeId, workspaceId: ws.id, keyVersion: ws.key_version, keyFingerprint: parseSwarmKey(ws.swarm_key).fingerprint }, 'sent workspace key')
  }

  /** Addresses of up to `maxBootstrapPeers` other ready members (a random sample when there are more). */
  #onlinePeerAddresses (workspaceId: string, exceptNodeId: string): string[] {
    const peers = this.#peerAddrs.get(workspaceId)
    if (peers == null || peers.size === 0) return []
    const ids = sample([...peers.keys()].filter(id => id !== exceptNodeId), this.#maxBootstrapPeers)
    return ids.flatMap(id => peers.get(id) ?? [])
  }

  /** Always-on peers of a workspace: the gateway's addresses and `extraBootstrapPeers`, valid multiaddrs only. */
  #extraPeers (workspaceId: string): string[] {
    const out: string[] = []
    try {
      if (this.#gateway != null) out.push(...this.#gateway.bootstrapAddresses(workspaceId))
      if (this.#init.extraBootstrapPeers != null) out.push(...this.#init.extraBootstrapPeers(workspaceId))
    } catch (err) {
      this.#log.warn({ workspaceId, err: (err as Error).message }, 'extra bootstrap peers failed')
    }
    return [...new Set(out)].filter(a => a.includes('/p2p/') && multiaddrSchema.safeParse(a).success).slice(0, MAX_PEER_ADDRESSES)
  }

  /** Queues a newly ready node for the workspace's next `bootstrap_update` (sent within {@link BOOTSTRAP_COALESCE_MS}). */
  #queueBootstrap (workspaceId: string, nodeId: string): void {
    let pending = this.#pendingBootstrap.get(workspaceId)
    if (pending == null) this.#pendingBootstrap.set(workspaceId, pending = new Set())
    pending.add(nodeId)
    if (this.#bootstrapTimer != null) return
    this.#bootstrapTimer = setTimeout(() => {
      this.#bootstrapTimer = undefined
      this.#flushBootstrap()
    }, BOOTSTRAP_COALESCE_MS)
  }

  /**
   * Tells up to `maxBootstrapPeers` ready members of each workspace about the
   * nodes that became ready since the last flush (at most `maxBootstrapPeers`
   * of them per message): one message per recipient instead of one per new node.
   */
  #flushBootstrap (): void {
    const pending = [...this.#pendingBootstrap]
    this.#pendingBootstrap.clear()
    for (const [workspaceId, fresh] of pending) {
      const addrs = this.#peerAddrs.get(workspaceId)
      const ready = this.#ready.get(workspaceId)
      if (addrs == null || ready == null) continue
      const freshIds = [...fresh].filter(id => addrs.has(id))
      if (freshIds.length === 0) continue
      for (const nodeId of sample([...ready], this.#maxBootstrapPeers)) {
        const session = this.#sessions.get(nodeId)
        if (session == null) continue
        const peers = sample(freshIds.filter(id => id !== nodeId), this.#maxBootstrapPeers).flatMap(id => addrs.get(id) ?? [])
        if (peers.length > 0) this.#send(session, { type: 'bootstrap_update', workspace_id: workspaceId, peers })
      }
    }
  }

  async #createGateway (init: OrchestratorGatewayInit | ((orchestrator: Orchestrator) => WorkspaceGateway | Promise<WorkspaceGateway>)): Promise<WorkspaceGateway> {
    if (typeof init === 'function') return await init(this)
    // loaded only when asked for: an orchestrator without a gateway never loads libp2p
    const [{ createStorageNode }, { createWorkspaceGateway }] = await Promise.all([import('../node/index.js'), import('../dashboard/gateway.js')])
    const storageNode = await createStorageNode({
      storagePath: init.storagePath,
      quotaBytes: init.quotaBytes ?? 2 ** 30,
      listenAddresses: init.listenAddresses ?? ['/ip4/127.0.0.1/tcp/0']
    })
    return createWorkspaceGateway({
      storageNode,
      orchestrator: this,
      swarmKey: (workspaceId) => this.swarmKeyFor(workspaceId),
      ...(init.replication != null ? { replication: init.replication } : {}),
      ...(init.keepUploads != null ? { keepUploads: init.keepUploads } : {}),
      ...(init.fetchTimeoutMs != null ? { fetchTimeoutMs: init.fetchTimeoutMs } : {})
    })
  }

  /** Joins the gateway to a workspace (or waits for its running join or key rotation), then gives its addresses to the members. */
  async #joinGateway (workspaceId: string): Promise<void> {
    const gateway = this.#gateway
    if (gateway == null) return
    try {
      await gateway.join(workspaceId)
      if (this.#gateway === gateway && this.#store != null) this.announceBootstrapPeers(workspaceId)
    } catch (err) {
      this.#log.warn({ workspaceId, err: (err as Error).message }, 'gateway could not join the workspace')
    }
  }

  #beat (): void {
    this.#store?.setMeta('last_alive', String(Date.now()))
    for (const s of this.#sockets) {
      if (!s.alive) { s.ws.terminate(); continue }
      s.alive = false
      try { s.ws.ping() } catch {}
    }
  }

  // ---- placement -----------------------------------------------------------

  /** Whether an allocation on `nodeId` still counts as a copy: online, or offline for less than the grace period. */
  #counts (nodeId: string, now: number): boolean {
    if (this.#sessions.has(nodeId)) return true
    const since = this.#offlineSince.get(nodeId) ?? this.#startedAt
    return now - since < this.#repinGraceMs
  }

  #schedulePlacement (workspaceId: string): void {
    this.#dirtyWorkspaces.add(workspaceId)
    if (this.#placementTimer != null || this.#store == null) return
    this.#placementTimer = setTimeout(() => {
      this.#placementTimer = undefined
      const list = [...this.#dirtyWorkspaces]
      this.#dirtyWorkspaces.clear()
      for (const ws of list) {
        try {
          this.#placeWorkspace(ws)
        } catch (err) {
          this.#log.error({ workspaceId: ws, err: (err as Error).message }, 'placement failed')
        }
      }
    }, 20)
  }

  #scheduleAllWorkspaces (): void {
    for (const ws of this.#members.keys()) this.#schedulePlacement(ws)
  }

  #placeWorkspace (workspaceId: string): void {
    const store = this.#store
    if (store == null || store.getWorkspace(workspaceId) == null) return
    const byPin = new Map<string, AllocationRow[]>()
    for (const a of store.listAllocationsOfWorkspace(workspaceId)) {
      const list = byPin.get(a.cid)
      if (list == null) byPin.set(a.cid, [a])
      else list.push(a)
    }
    store.transaction(() => {
      for (const pin of store.listPins(workspaceId)) this.#placePin(workspaceId, pin.cid, pin, byPin.get(pin.cid) ?? [])
    })
  }

  /** Brings one pin between its min and max copies: allocates to the ready members with the most free space, drops surplus. */
  #placePin (workspaceId: string, cid: string, pinRow?: PinRow, allocs?: AllocationRow[]): void {
    const store = this.#db()
    const pin = pinRow ?? store.getPin(workspaceId, cid)
    if (pin == null) return
    const allocations = allocs ?? store.listAllocationsOfPin(workspaceId, cid)
    const members = this.#memberSet(workspaceId)
    const now = Date.now()
    const target = targetCopies(pin.replication_max, members.size)
    // nodes with any allocation, unpinning ones included: a node that is dropping its copy is not asked for it again until it is done
    const allocated = new Set<string>()
    const counted: AllocationRow[] = []
    for (const a of allocations) {
      allocated.add(a.node_id)
      if (ACTIVE.has(a.state) && members.has(a.node_id) && this.#counts(a.node_id, now)) counted.push(a)
    }

    if (counted.length < target) {
      const candidates = []
      for (const nodeId of this.#ready.get(workspaceId) ?? []) {
        if (!allocated.has(nodeId)) candidates.push({ nodeId, free: this.#free.get(nodeId) })
      }
      const chosen = chooseNodes(candidates, target - counted.length, pin.size)
      for (const nodeId of chosen) {
        this.#setAllocation(workspaceId, cid, nodeId, 'pinning', null, now)
        const free = this.#free.get(nodeId)
        if (free !== undefined && pin.size != null) this.#free.set(nodeId, Math.max(0, free - pin.size))
        const session = this.#sessions.get(nodeId)
        if (session != null) this.#send(session, this.#pinMessage(pin, allocations))
      }
      if (counted.length + chosen.length < pin.replication_min) {
        this.#log.debug({ workspaceId, cid, copies: counted.length + chosen.length, min: pin.replication_min }, 'pin under-replicated')
      }
      if (pin.replication_max === -1) {
        // every member gets it: members that are not ready get a queued allocation, sent on their pin_sync
        for (const nodeId of members) {
          if (!allocated.has(nodeId) && !chosen.includes(nodeId)) this.#setAllocation(workspaceId, cid, nodeId, 'queued', null, now)
        }
      }
      return
    }

    if (counted.length > target && pin.replication_max !== -1) {
      const surplus = chooseSurplus(counted.map(a => ({ nodeId: a.node_id, free: this.#free.get(a.node_id), pinned: a.state === 'pinned' })), target)
      for (const nodeId of surplus) {
        this.#setAllocation(workspaceId, cid, nodeId, 'unpinning', null, now)
        const session = this.#sessions.get(nodeId)
        if (session?.ready.has(workspaceId) === true) this.#send(session, { type: 'unpin_content', workspace_id: workspaceId, cid })
      }
    }
  }

  #pinMessage (pin: PinRow, allocations?: AllocationRow[]): OrchestratorMessage {
    // where to fetch it: addresses of up to 3 ready members that have it
    const providers: string[] = []
    const peers = this.#peerAddrs.get(pin.workspace_id)
    if (peers != null && peers.size > 0) {
      for (const a of allocations ?? this.#db().listAllocationsOfPin(pin.workspace_id, pin.cid)) {
        const addrs = a.state === 'pinned' ? peers.get(a.node_id) : undefined
        if (addrs != null) providers.push(...addrs.slice(0, 4))
        if (providers.length >= 12) break
      }
    }
    return {
      type: 'pin_content',
      workspace_id: pin.workspace_id,
      cid: pin.cid,
      ...(pin.name != null ? { name: pin.name } : {}),
      ...(pin.size != null ? { size: pin.size } : {}),
      timeout_ms: this.#init.pinTimeoutMs ?? 600_000,
      ...(providers.length > 0 ? { providers } : {})
    }
  }

  #setAllocation (workspaceId: string, cid: string, nodeId: string, state: AllocationState, error: { code: string, message: string } | null, at: number): void {
    this.#db().setAllocation(workspaceId, cid, nodeId, state, error == null ? null : JSON.stringify(error), at)
    this.#emit({ type: 'allocation', workspaceId, cid, nodeId, state, ...(error != null ? { error } : {}) })
  }

  #removeAllocation (workspaceId: string, cid: string, nodeId: string): void {
    this.#db().deleteAllocation(workspaceId, cid, nodeId)
    this.#emit({ type: 'allocation', workspaceId, cid, nodeId, state: 'removed' })
  }

  // ---- helpers -------------------------------------------------------------

  #db (): OrchestratorStore {
    if (this.#store == null) throw new NotStartedError('Orchestrator not started')
    this.#store.batch()
    return this.#store
  }

  #later (ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.#timers.delete(t); fn() }, ms)
    t.unref()
    this.#timers.add(t)
  }

  #emit (event: OrchestratorEvent): void {
    for (const l of this.#listeners) {
      try { l(event) } catch (err) { this.#log.warn({ err: (err as Error).message }, 'change listener threw') }
    }
  }

  #memberSet (workspaceId: string): Set<string> {
    let set = this.#members.get(workspaceId)
    if (set == null) this.#members.set(workspaceId, set = new Set(this.#db().listMemberIds(workspaceId)))
    return set
  }

  #isMember (workspaceId: string, nodeId: string): boolean {
    return this.#members.get(workspaceId)?.has(nodeId) === true
  }

  #workspaceRow (workspaceId: string): WorkspaceRow {
    const row = typeof workspaceId === 'string' ? this.#db().getWorkspace(workspaceId) : undefined
    if (row == null) throw new NotFoundError(`Workspace ${String(workspaceId).slice(0, 80)} not found`)
    return row
  }

  #nodeRow (nodeId: string): NodeRow {
    const row = typeof nodeId === 'string' ? this.#db().getNode(nodeId) : undefined
    if (row == null) throw new NotFoundError(`Node ${String(nodeId).slice(0, 80)} not found`)
    return row
  }

  #workspaceInfo (row: WorkspaceRow): WorkspaceInfo {
    return {
      id: row.id,
      name: row.name,
      keyVersion: row.key_version,
      keyFingerprint: parseSwarmKey(row.swarm_key).fingerprint,
      createdAt: row.created_at,
      members: [...this.#memberSet(row.id)]
    }
  }

  #nodeInfo (row: NodeRow): NodeInfo {
    const storage: NodeStorage | null = row.storage_reported_at == null
      ? null
      : { used: row.storage_used ?? 0, quota: row.storage_quota ?? 0, free: row.storage_free ?? 0, driveFree: row.storage_drive_free ?? null, reportedAt: row.storage_reported_at }
    return {
      id: row.id,
      name: row.name,
      online: this.#sessions.has(row.id),
      createdAt: row.created_at,
      lastSeen: row.last_seen,
      storage,
      workspaces: this.#db().listWorkspaceIdsOfNode(row.id)
    }
  }

  #pinStatus (pin: PinRow, allocations: AllocationRow[]): PinStatus {
    const infos: AllocationInfo[] = allocations.map(a => ({
      nodeId: a.node_id,
      state: a.state,
      error: a.error == null ? null : JSON.parse(a.error) as { code: string, message: string },
      updatedAt: a.updated_at
    }))
    const copies = allocations.filter(a => a.state === 'pinned').length
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
}

function checkPinRequest (request: PinRequest, min: number, max: number): void {
  if (!Number.isInteger(min) || min < 1) throw new InvalidArgumentError('replicationMin must be an integer >= 1')
  if (!Number.isInteger(max) || (max !== -1 && max < min)) throw new InvalidArgumentError('replicationMax must be -1 or an integer >= replicationMin')
  if (request.size != null && (!Number.isSafeInteger(request.size) || request.size < 0)) throw new InvalidArgumentError('size must be a non-negative integer')
  if (request.name != null && (typeof request.name !== 'string' || request.name.length > 1024)) throw new InvalidArgumentError('name must be at most 1024 characters')
}

/** Up to `n` distinct items of `items`, in random order when there are more. */
function sample<T> (items: T[], n: number): T[] {
  if (items.length <= n) return items
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (items.length - i))
    const t = items[i]; items[i] = items[j]; items[j] = t
  }
  return items.slice(0, n)
}

/** Parses a CID string and returns its canonical string form. */
export function normaliseCid (cid: string): string {
  if (typeof cid !== 'string' || cid.length === 0 || cid.length > 256) throw new InvalidCidError('CID must be a non-empty string')
  try {
    return CID.parse(cid).toString()
  } catch {
    throw new InvalidCidError(`Invalid CID ${JSON.stringify(cid.slice(0, 80))}`)
  }
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
