/**
 * `createOrchestratorServer()`: builds the orchestrator, and on start the
 * gateway (a storage node, loaded only when asked for) and the dashboard
 * routes, through the orchestrator's hooks. The gateway joins every
 * workspace before `start()` resolves, joins new ones as they are created,
 * follows key rotations, and its addresses go to the members as bootstrap peers.
 */
import type { FastifyInstance } from 'fastify'
import { createOrchestrator } from '../orchestrator/orchestrator.js'
import type {
  CreatedNode, KeyRotation, NodeInfo, Orchestrator, OrchestratorAddresses, OrchestratorEvent, OrchestratorLogger,
  PinRequest, PinStatus, WorkspaceInfo, WorkspaceStatus
} from '../orchestrator/types.js'
import type { WorkspaceGateway } from '../gateway/types.js'
import type { OrchestratorGatewayInit, OrchestratorServer, OrchestratorServerInit } from './types.js'

const silent: OrchestratorLogger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * Creates an orchestrator with (optionally) its workspace gateway and its dashboard on the same port.
 *
 * @example
 * ```ts
 * const server = createOrchestratorServer({ databasePath: ':memory:', port: 0, dashboard: true, gateway: { storagePath: './gw' } })
 * const { dashboardUrl } = await server.start()
 * ```
 */
export function createOrchestratorServer (init: OrchestratorServerInit = {}): OrchestratorServer {
  return new DefaultOrchestratorServer(init)
}

class DefaultOrchestratorServer implements OrchestratorServer {
  readonly orchestrator: Orchestrator
  readonly #init: OrchestratorServerInit
  readonly #log: OrchestratorLogger
  #gateway: WorkspaceGateway | undefined
  #dashboardPrefix: string | undefined

  constructor (init: OrchestratorServerInit) {
    this.#init = init
    this.#log = init.logger ?? silent
    const { dashboard: _dashboard, gateway: _gateway, ...orchestratorInit } = init
    this.orchestrator = createOrchestrator({
      ...orchestratorInit,
      plugins: [async (app) => { await this.#compose(app) }, ...(init.plugins ?? [])],
      extraBootstrapPeers: (workspaceId) => [
        ...(this.#gateway?.bootstrapAddresses(workspaceId) ?? []),
        ...(init.extraBootstrapPeers?.(workspaceId) ?? [])
      ]
    })
    this.orchestrator.onChange(event => {
      if (this.#gateway == null) return
      // after the gateway's own listener has started its key rotation
      if (event.type === 'workspace:created' || event.type === 'workspace:key-rotated') queueMicrotask(() => { void this.#joinGateway(event.workspaceId) })
    })
  }

  get adminToken (): string { return this.orchestrator.adminToken }
  get gateway (): WorkspaceGateway | undefined { return this.#gateway }

  /** Runs as the orchestrator's first plugin: the store is open, the server does not listen yet. */
  async #compose (app: FastifyInstance): Promise<void> {
    const init = this.#init
    if (init.gateway != null) this.#gateway = await this.#createGateway(init.gateway)
    if (init.dashboard == null || init.dashboard === false) return
    const { registerDashboard } = await import('../dashboard/routes.js')
    const options = init.dashboard === true ? {} : init.dashboard
    registerDashboard(app, { secureCookie: init.tls != null, logger: this.#log, ...options, orchestrator: this, gateway: this.#gateway })
    const prefix = (options.prefix ?? '/dashboard').replace(/\/+$/, '')
    this.#dashboardPrefix = prefix
    const target = `${prefix}/`
    if (prefix !== '') app.get('/', async (_req, reply) => await reply.redirect(target))
  }

  async #createGateway (init: OrchestratorGatewayInit | ((orchestrator: Orchestrator) => WorkspaceGateway | Promise<WorkspaceGateway>)): Promise<WorkspaceGateway> {
    if (typeof init === 'function') return await init(this)
    // loaded only when asked for: an orchestrator without a gateway never loads libp2p
    const [{ createStorageNode }, { createWorkspaceGateway }] = await Promise.all([import('../node/index.js'), import('../gateway/gateway.js')])
    const storageNode = await createStorageNode({
      storagePath: init.storagePath,
      quotaBytes: init.quotaBytes ?? 2 ** 30,
      listenAddresses: init.listenAddresses ?? ['/ip4/127.0.0.1/tcp/0']
    })
    return createWorkspaceGateway({
      storageNode,
      orchestrator: this,
      swarmKey: (workspaceId) => this.swarmKeyFor(workspaceId),
      logger: this.#log,
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
      if (this.#gateway === gateway) await this.orchestrator.announceBootstrapPeers(workspaceId)
    } catch (err) {
      this.#log.warn({ workspaceId, err: (err as Error).message }, 'gateway could not join the workspace')
    }
  }

  async start (): Promise<OrchestratorAddresses> {
    let addresses: OrchestratorAddresses
    try {
      addresses = await this.orchestrator.start()
    } catch (err) {
      await this.#stopGateway()
      throw err
    }
    // the gateway is a member of every workspace from the start
    if (this.#gateway != null) await Promise.all((await this.orchestrator.listWorkspaces()).map(async w => { await this.#joinGateway(w.id) }))
    return this.#dashboardPrefix !== undefined ? { ...addresses, dashboardUrl: `${addresses.adminUrl}${this.#dashboardPrefix}/` } : addresses
  }

  async stop (): Promise<void> {
    await this.orchestrator.stop()
    await this.#stopGateway()
  }

  async #stopGateway (): Promise<void> {
    const gateway = this.#gateway
    this.#gateway = undefined
    this.#dashboardPrefix = undefined
    await gateway?.stop().catch((err: Error) => { this.#log.warn({ err: err.message }, 'stopping the gateway failed') })
  }

  onChange (listener: (event: OrchestratorEvent) => void): () => void { return this.orchestrator.onChange(listener) }
  async idle (): Promise<void> { await this.orchestrator.idle() }
  async settled (): Promise<void> { await this.orchestrator.settled() }
  get isLeader (): boolean { return this.orchestrator.isLeader }
  async swarmKeyFor (workspaceId: string): Promise<string> { return await this.orchestrator.swarmKeyFor(workspaceId) }
  async announceBootstrapPeers (workspaceId: string): Promise<void> { await this.orchestrator.announceBootstrapPeers(workspaceId) }
  async rotateKeyEncryptionKey (next: string | Uint8Array | null): Promise<number> { return await this.orchestrator.rotateKeyEncryptionKey(next) }
  async createWorkspace (init: { id?: string, name: string }): Promise<WorkspaceInfo> { return await this.orchestrator.createWorkspace(init) }
  async listWorkspaces (): Promise<WorkspaceInfo[]> { return await this.orchestrator.listWorkspaces() }
  async getWorkspace (workspaceId: string): Promise<WorkspaceInfo> { return await this.orchestrator.getWorkspace(workspaceId) }
  async rotateKey (workspaceId: string): Promise<KeyRotation> { return await this.orchestrator.rotateKey(workspaceId) }
  async createNode (init: { name: string }): Promise<CreatedNode> { return await this.orchestrator.createNode(init) }
  async listNodes (): Promise<NodeInfo[]> { return await this.orchestrator.listNodes() }
  async getNode (nodeId: string): Promise<NodeInfo> { return await this.orchestrator.getNode(nodeId) }
  async addMember (workspaceId: string, nodeId: string): Promise<void> { await this.orchestrator.addMember(workspaceId, nodeId) }
  async removeMember (workspaceId: string, nodeId: string, options?: { purge?: boolean }): Promise<void> { await this.orchestrator.removeMember(workspaceId, nodeId, options) }
  async pin (workspaceId: string, request: PinRequest): Promise<PinStatus> { return await this.orchestrator.pin(workspaceId, request) }
  async unpin (workspaceId: string, cid: string): Promise<void> { await this.orchestrator.unpin(workspaceId, cid) }
  async pinOnNode (workspaceId: string, nodeId: string, request: PinRequest): Promise<PinStatus> { return await this.orchestrator.pinOnNode(workspaceId, nodeId, request) }
  async unpinOnNode (workspaceId: string, nodeId: string, cid: string): Promise<void> { await this.orchestrator.unpinOnNode(workspaceId, nodeId, cid) }
  async pinStatus (workspaceId: string, cid: string): Promise<PinStatus> { return await this.orchestrator.pinStatus(workspaceId, cid) }
  async workspaceStatus (workspaceId: string): Promise<WorkspaceStatus> { return await this.orchestrator.workspaceStatus(workspaceId) }
}
