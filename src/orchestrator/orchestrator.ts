/**
 * The orchestrator: workspace keys, node authentication, peer bootstrap,
 * pin placement and re-pinning (the core, `core.ts`), over a WebSocket
 * endpoint (`ws-transport.ts`) that shares its HTTP(S) server with the admin
 * API. It builds nothing else: the gateway and the dashboard are composed
 * above it (`createOrchestratorServer` in `src/server/`) through `plugins`,
 * `extraBootstrapPeers` and `onChange`.
 */
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { ConflictError, InvalidArgumentError, InvalidStoragePathError, NotStartedError } from '../errors.js'
import { buildAdminApp } from './admin-api.js'
import { createOrchestratorCore } from './core.js'
import type { OrchestratorCore } from './core.js'
import { openOrchestratorStore } from './store/sqlite.js'
import { parseKeyEncryptionKey, resolveKeyEncryptionKey } from './store/key-encryption.js'
import type { OrchestratorStore } from './store/types.js'
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

/** File name of the database inside `dataDir`. */
export const DATABASE_FILE_NAME = 'otherthing-orchestrator.db'

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
  readonly #listeners = new Set<(event: OrchestratorEvent) => void>()
  #store: OrchestratorStore | null = null
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
    const dbPath = init.databasePath ?? join(init.dataDir ?? process.cwd(), DATABASE_FILE_NAME)
    if (dbPath !== ':memory:') makeDataDir(dirname(dbPath))
    const kek = init.keyEncryptionKey != null ? parseKeyEncryptionKey(init.keyEncryptionKey) : resolveKeyEncryptionKey({ keyEncryptionKeyFile: init.keyEncryptionKeyFile })
    const store = openOrchestratorStore({ path: dbPath, ...(kek != null ? { keyEncryptionKey: kek } : {}) })
    this.#store = store
    try {
      const core = createOrchestratorCore({
        store,
        logger: this.#log,
        ...pick(init, ['clock', 'scheduler', 'repinGraceMs', 'maxBootstrapPeers', 'pinTimeoutMs', 'authTimeoutMs', 'extraBootstrapPeers'])
      })
      this.#core = core
      core.onChange(event => {
        for (const l of this.#listeners) {
          try { l(event) } catch (err) { this.#log.warn({ err: (err as Error).message }, 'change listener threw') }
        }
      })
      const app = buildAdminApp(this, { adminToken: this.adminToken, tls: init.tls, logger: this.#log })
      this.#app = app
      for (const plugin of init.plugins ?? []) await plugin(app, this)
      const wsPath = init.wsPath ?? '/ws'
      this.#transport = attachWsTransport({ server: app.server, hub: core.hub, log: this.#log, path: wsPath, heartbeatMs: init.heartbeatMs, onBeat: () => { core.touchAlive() } })
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
      this.#log.info({ ...addresses, database: dbPath === ':memory:' ? dbPath : 'file', keysEncrypted: store.encryptsKeys }, 'orchestrator started')
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
      this.#core?.touchAlive()
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'recording the stop time failed')
    }
    this.#core?.close()
    this.#core = null
    this.#store?.close()
    this.#store = null
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

  swarmKeyFor (workspaceId: string): string { return this.#c().swarmKeyFor(workspaceId) }
  announceBootstrapPeers (workspaceId: string): void { this.#c().announceBootstrapPeers(workspaceId) }
  createWorkspace (init: { id?: string, name: string }): WorkspaceInfo { return this.#c().createWorkspace(init) }
  listWorkspaces (): WorkspaceInfo[] { return this.#c().listWorkspaces() }
  getWorkspace (workspaceId: string): WorkspaceInfo { return this.#c().getWorkspace(workspaceId) }
  rotateKey (workspaceId: string): KeyRotation { return this.#c().rotateKey(workspaceId) }
  createNode (init: { name: string }): CreatedNode { return this.#c().createNode(init) }
  listNodes (): NodeInfo[] { return this.#c().listNodes() }
  getNode (nodeId: string): NodeInfo { return this.#c().getNode(nodeId) }
  addMember (workspaceId: string, nodeId: string): void { this.#c().addMember(workspaceId, nodeId) }
  removeMember (workspaceId: string, nodeId: string, options?: { purge?: boolean }): void { this.#c().removeMember(workspaceId, nodeId, options) }
  pin (workspaceId: string, request: PinRequest): PinStatus { return this.#c().pin(workspaceId, request) }
  unpin (workspaceId: string, cid: string): void { this.#c().unpin(workspaceId, cid) }
  pinOnNode (workspaceId: string, nodeId: string, request: PinRequest): PinStatus { return this.#c().pinOnNode(workspaceId, nodeId, request) }
  unpinOnNode (workspaceId: string, nodeId: string, cid: string): void { this.#c().unpinOnNode(workspaceId, nodeId, cid) }
  pinStatus (workspaceId: string, cid: string): PinStatus { return this.#c().pinStatus(workspaceId, cid) }
  workspaceStatus (workspaceId: string): WorkspaceStatus { return this.#c().workspaceStatus(workspaceId) }

  rotateKeyEncryptionKey (next: string | Uint8Array | null): number {
    const count = this.#c().rotateKeyEncryptionKey(next == null ? null : parseKeyEncryptionKey(next))
    this.#log.info({ keys: count, encrypted: next != null }, 'swarm keys re-encrypted')
    return count
  }
}

/** Creates the database's folder (mode 0700 when new), or throws a typed error. */
function makeDataDir (dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new InvalidStoragePathError(`Cannot create the orchestrator's data folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
}

function pick<T extends object, K extends keyof T> (obj: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {}
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k]
  return out
}
