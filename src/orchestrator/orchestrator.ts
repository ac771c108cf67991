/**
 * The orchestrator: workspace keys, node authentication, peer bootstrap,
 * pin placement and re-pinning (the core, `core.ts`), over a WebSocket
 * endpoint (`ws-transport.ts`) that shares its HTTP(S) server with the admin
 * API. It builds nothing else: the gateway and the dashboard are composed
 * above it (`createOrchestratorServer` in `src/server/`) through `plugins`,
 * `extraBootstrapPeers` and `onChange`.
 */
import type { FastifyInstance } from 'fastify'
import { ConflictError, InvalidArgumentError, NotStartedError } from '../errors.js'
import { buildAdminApp } from './admin-api.js'
import { createOrchestratorCore } from './core.js'
import type { OrchestratorCore } from './core.js'
import { parseKeyEncryptionKey, resolveKeyEncryptionKey } from './store/key-encryption.js'
import type { AsyncOrchestratorStore } from './store/async-store.js'
import { chooseDatabase, describeDatabase, openStore } from './open-store.js'
import { startClusterLink } from './cluster/postgres-link.js'
import type { StartedLink } from './cluster/postgres-link.js'
import { generateToken } from '../util/tokens.js'
import { isLoopbackHost } from '../util/host.js'
import { attachWsTransport } from './ws-transport.js'
import type { WsTransport } from './ws-transport.js'
import type {
  CreatedNode, KeyRotation, NodeInfo, Orchestrator, OrchestratorAddresses, OrchestratorEvent, OrchestratorInit,
  OrchestratorLogger, PinRequest, PinStatus, WorkspaceInfo, WorkspaceStatus
} from './types.js'
import { silentLogger } from './core.js'

export { CLOSE_CODES, ERR_PROTOCOL_VERSION } from './session-hub.js'
export { BOOTSTRAP_COALESCE_MS } from './bootstrap.js'
export { normaliseCid } from '../util/cid.js'

export { DATABASE_FILE_NAME } from './open-store.js'

/**
 * Creates an orchestrator. Nothing opens until `start()`.
 *
 * @example
 * ```ts
 * const orch = createOrchestrator({ dataDir: './state', port: 7420 })
 * const { url, adminUrl } = await orch.start()
 * const ws = await orch.createWorkspace({ name: 'Team' })
 * const { node, token } = await orch.createNode({ name: 'laptop' })
 * await orch.addMember(ws.id, node.id)
 *
 * // or on PostgreSQL, where several instances may share the database
 * const shared = createOrchestrator({ database: 'postgres://orch:secret@db.example:5432/otherthing', port: 7420 })
 * ```
 */
export function createOrchestrator (init: OrchestratorInit = {}): Orchestrator {
  return new DefaultOrchestrator(init)
}

class DefaultOrchestrator implements Orchestrator {
  readonly adminToken: string
  readonly #init: OrchestratorInit
  readonly #log: OrchestratorLogger
  readonly #listeners = new Set<(event: OrchestratorEvent) => void>()
  #store: AsyncOrchestratorStore | null = null
  #link: StartedLink | null = null
  #core: OrchestratorCore | null = null
  #app: FastifyInstance | null = null
  #transport: WsTransport | null = null

  constructor (init: OrchestratorInit) {
    this.#init = init
    this.#log = init.logger ?? silentLogger
    this.adminToken = init.adminToken ?? generateToken()
    if (this.adminToken.length < 16) throw new InvalidArgumentError('adminToken must be at least 16 characters')
  }

  // ---- lifecycle -----------------------------------------------------------

  async start (): Promise<OrchestratorAddresses> {
    if (this.#store != null) throw new ConflictError('Orchestrator already started')
    const init = this.#init
    const database = chooseDatabase(init)
    const kek = init.keyEncryptionKey != null ? parseKeyEncryptionKey(init.keyEncryptionKey) : resolveKeyEncryptionKey({ keyEncryptionKeyFile: init.keyEncryptionKeyFile })
    const store = await openStore(database, { ...(kek != null ? { keyEncryptionKey: kek } : {}), logger: this.#log })
    this.#store = store
    try {
      const link = database.engine === 'postgres'
        ? await startClusterLink({ connectionString: database.url, instanceId: init.instanceId, logger: this.#log })
        : null
      this.#link = link
      const core = await createOrchestratorCore({
        store,
        ...(link != null ? { link: link.link } : {}),
        logger: this.#log,
        ...pick(init, ['clock', 'scheduler', 'repinGraceMs', 'maxBootstrapPeers', 'pinTimeoutMs', 'authTimeoutMs', 'extraBootstrapPeers'])
      })
      this.#core = core
      link?.attach(core)
      await link?.settle()
      core.onChange(event => {
        for (const l of this.#listeners) {
          try { l(event) } catch (err) { this.#log.warn({ err: (err as Error).message }, 'change listener threw') }
        }
      })
      const app = buildAdminApp(this, { adminToken: this.adminToken, tls: init.tls, logger: this.#log })
      this.#app = app
      for (const plugin of init.plugins ?? []) await plugin(app, this)
      const wsPath = init.wsPath ?? '/ws'
      this.#transport = attachWsTransport({ server: app.server, hub: core.hub, log: this.#log, path: wsPath, heartbeatMs: init.heartbeatMs, onBeat: () => { core.touchAlive().catch((err: Error) => { this.#log.warn({ err: err.message }, 'recording the time failed') }) } })
      const host = init.host ?? '127.0.0.1'
      await app.listen({ host, port: init.port ?? 7420, backlog: 2048 })

      const address = app.server.address()
      if (address == null || typeof address === 'string') throw new Error('Server has no TCP address')
      const shown = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address
      const secure = init.tls != null
      const adminUrl = `${secure ? 'https' : 'http'}://${shown}:${address.port}`
      const addresses: OrchestratorAddresses = { url: `${secure ? 'wss' : 'ws'}://${shown}:${address.port}${wsPath}`, adminUrl }
      if (!secure && !isLoopbackHost(address.address)) {
        // nodes receive swarm keys and send their tokens over this socket
        this.#log.warn({ host: address.address, port: address.port }, 'orchestrator listens without TLS on a non-loopback address: swarm keys and node tokens cross the network in clear; give `tls` (or put a TLS proxy in front)')
      }
      this.#log.info({ ...addresses, database: describeDatabase(database), ...(link != null ? { instanceId: link.instanceId } : {}), keysEncrypted: store.encryptsKeys }, 'orchestrator started')
      return addresses
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    const transport = this.#transport
    this.#transport = null
    // closing sockets marks the nodes offline in the database
    await transport?.close()
    if (this.#app != null) {
      const app = this.#app
      this.#app = null
      await app.close()
    }
    try {
      await this.#core?.idle()
      await this.#core?.touchAlive()
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'recording the stop time failed')
    }
    this.#core?.close()
    this.#core = null
    const link = this.#link
    this.#link = null
    await link?.stop()
    const store = this.#store
    this.#store = null
    await store?.close()
  }

  // ---- library API ---------------------------------------------------------

  #c (): OrchestratorCore {
    if (this.#core == null) throw new NotStartedError('Orchestrator not started')
    return this.#core
  }

  onChange (listener: (event: OrchestratorEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  async swarmKeyFor (workspaceId: string): Promise<string> { return await this.#c().swarmKeyFor(workspaceId) }
  async announceBootstrapPeers (workspaceId: string): Promise<void> { await this.#c().announceBootstrapPeers(workspaceId) }
  async createWorkspace (init: { id?: string, name: string }): Promise<WorkspaceInfo> { return await this.#c().createWorkspace(init) }
  async listWorkspaces (): Promise<WorkspaceInfo[]> { return await this.#c().listWorkspaces() }
  async getWorkspace (workspaceId: string): Promise<WorkspaceInfo> { return await this.#c().getWorkspace(workspaceId) }
  async rotateKey (workspaceId: string): Promise<KeyRotation> { return await this.#c().rotateKey(workspaceId) }
  async createNode (init: { name: string }): Promise<CreatedNode> { return await this.#c().createNode(init) }
  async listNodes (): Promise<NodeInfo[]> { return await this.#c().listNodes() }
  async getNode (nodeId: string): Promise<NodeInfo> { return await this.#c().getNode(nodeId) }
  async addMember (workspaceId: string, nodeId: string): Promise<void> { await this.#c().addMember(workspaceId, nodeId) }
  async removeMember (workspaceId: string, nodeId: string, options?: { purge?: boolean }): Promise<void> { await this.#c().removeMember(workspaceId, nodeId, options) }
  async pin (workspaceId: string, request: PinRequest): Promise<PinStatus> { return await this.#c().pin(workspaceId, request) }
  async unpin (workspaceId: string, cid: string): Promise<void> { await this.#c().unpin(workspaceId, cid) }
  async pinOnNode (workspaceId: string, nodeId: string, request: PinRequest): Promise<PinStatus> { return await this.#c().pinOnNode(workspaceId, nodeId, request) }
  async unpinOnNode (workspaceId: string, nodeId: string, cid: string): Promise<void> { await this.#c().unpinOnNode(workspaceId, nodeId, cid) }
  async pinStatus (workspaceId: string, cid: string): Promise<PinStatus> { return await this.#c().pinStatus(workspaceId, cid) }
  async workspaceStatus (workspaceId: string): Promise<WorkspaceStatus> { return await this.#c().workspaceStatus(workspaceId) }

  /** Resolves once the work in flight (received frames, placement started by timers) is done. */
  async idle (): Promise<void> { await this.#c().idle() }
  async settled (): Promise<void> { await this.#c().settled() }

  /** Whether this instance places pins now (always, alone on its database; the lease holder among several on PostgreSQL). */
  get isLeader (): boolean { return this.#core?.context.link.isLeader() ?? false }

  async rotateKeyEncryptionKey (next: string | Uint8Array | null): Promise<number> {
    const count = await this.#c().rotateKeyEncryptionKey(next == null ? null : parseKeyEncryptionKey(next))
    this.#log.info({ keys: count, encrypted: next != null }, 'swarm keys re-encrypted')
    return count
  }
}

function pick<T extends object, K extends keyof T> (obj: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {}
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k]
  return out
}
