import type { FastifyInstance } from 'fastify'
import type { Clock, Scheduler } from './clock.js'
import type { AllocationState } from './store/types.js'

export type { AllocationState }

/** Adds routes (or anything else) to the orchestrator's fastify app before it listens; may be async. */
export type OrchestratorPlugin = (app: FastifyInstance, orchestrator: Orchestrator) => void | Promise<void>

/** Anything with pino's `info/warn/error/debug(obj, msg)` shape. */
export interface OrchestratorLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface OrchestratorInit {
  /** Folder of the SQLite file `otherthing-orchestrator.db`. @default process.cwd() */
  dataDir?: string
  /** The SQLite file itself (overrides `dataDir`); `':memory:'` for a throwaway database. */
  databasePath?: string
  /**
   * A PostgreSQL URL (`postgres://user:password@host:port/database`): the
   * state goes there instead of a SQLite file, and several instances may
   * share it (placement on one of them at a time, failover within seconds;
   * see docs/orchestrator-postgres.md). `createOrchestrator` reads the env
   * variable `DATABASE_URL` when neither this nor `databasePath` is given.
   * A SQLite file path is accepted too. @default the SQLite file in `dataDir`
   */
  database?: string
  /** This instance's name among the instances on one PostgreSQL (1 to 50 characters). @default hostname-pid-random */
  instanceId?: string
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string
  /** TCP port; 0 picks a free one. @default 7420 */
  port?: number
  /** PEM certificate and key: serve `https://` and `wss://` instead of `http://` and `ws://`. */
  tls?: { cert: string | Buffer, key: string | Buffer }
  /** Path of the WebSocket endpoint. @default '/ws' */
  wsPath?: string
  /** Bearer token of the admin API. @default a random token, readable as `orchestrator.adminToken` */
  adminToken?: string
  /** How long a node may be offline before its pins are placed elsewhere (ms). @default 600000 */
  repinGraceMs?: number
  /** Most peers given to a node in `workspace_joined`, and most nodes told about a new peer in `bootstrap_update`. @default 32 */
  maxBootstrapPeers?: number
  /** A connection that has not sent a valid `hello` within this time is closed (ms). @default 10000 */
  authTimeoutMs?: number
  /** WebSocket ping interval; a node that misses a pong is dropped (ms). @default 30000 */
  heartbeatMs?: number
  /** `timeout_ms` sent with every `pin_content`. @default 600000 */
  pinTimeoutMs?: number
  /** Structured logger (pino works). Swarm keys are never logged, only fingerprints. @default silent */
  logger?: OrchestratorLogger
  /**
   * Always-on peers given to members of a workspace on top of the online
   * members, in `workspace_joined` and `bootstrap_update` (full multiaddrs
   * with `/p2p/<peer id>`). `createOrchestratorServer` adds its gateway here.
   * Call `announceBootstrapPeers(workspaceId)` when the answer changes.
   * @default none
   */
  extraBootstrapPeers?: (workspaceId: string) => string[]
  /** Functions that add routes to the orchestrator's server (same port as `/ws` and the admin API), run in order before it listens. @default [] */
  plugins?: OrchestratorPlugin[]
  /**
   * Key-encryption key of the swarm keys at rest (AES-256-GCM): 64 hex
   * characters, base64 of 32 bytes, or the bytes. Without it (and without
   * `keyEncryptionKeyFile`) the env variables `OTHERTHING_KEK` and
   * `OTHERTHING_KEK_FILE` are read. Required when the database holds
   * encrypted keys. @default none: keys in plain text in a mode-0600 file
   */
  keyEncryptionKey?: string | Uint8Array
  /** A file holding the key-encryption key (as above, or 32 raw bytes). */
  keyEncryptionKeyFile?: string
  /** Where the time comes from (tests pass a manual clock). @default Date.now */
  clock?: Clock
  /** Where timers are set (tests pass a manual scheduler). @default setTimeout, unref'd */
  scheduler?: Scheduler
}

export interface WorkspaceInfo {
  id: string
  name: string
  keyVersion: number
  /** Fingerprint of the current swarm key (safe to show). */
  keyFingerprint: string
  createdAt: number
  members: string[]
}

export interface NodeStorage {
  used: number
  quota: number
  free: number
  /** Free space on the node's drive, `null` when the node did not report it. */
  driveFree: number | null
  reportedAt: number
}

export interface NodeInfo {
  id: string
  name: string
  online: boolean
  createdAt: number
  lastSeen: number | null
  storage: NodeStorage | null
  workspaces: string[]
}

export interface CreatedNode {
  node: NodeInfo
  /** The node's token. Shown once: only its hash is stored. */
  token: string
}

export interface PinRequest {
  cid: string
  /** Copies that must exist. @default 1 */
  replicationMin?: number
  /** Copies wanted at most; -1 puts it on every member. @default replicationMin */
  replicationMax?: number
  name?: string
  /** Content size in bytes, if known (nodes report it once pinned). */
  size?: number
}

export interface AllocationInfo {
  nodeId: string
  state: AllocationState
  error: { code: string, message: string } | null
  updatedAt: number
}

export type PinHealth = 'pinned' | 'pinning' | 'under-replicated' | 'failed'

export interface PinStatus {
  cid: string
  name: string | null
  size: number | null
  replicationMin: number
  replicationMax: number
  createdAt: number
  /**
   * Copies confirmed pinned (`state === 'pinned'`) on members that are online
   * or offline for less than `repinGraceMs`; a copy on a node gone longer does not count.
   */
  copies: number
  status: PinHealth
  allocations: AllocationInfo[]
}

export interface WorkspaceMemberStatus {
  id: string
  name: string
  online: boolean
  lastSeen: number | null
  peerId: string | null
  addresses: string[]
  storage: NodeStorage | null
}

export interface WorkspaceStatus {
  workspace: WorkspaceInfo
  nodes: WorkspaceMemberStatus[]
  nodesOnline: number
  /** Sums over the members that reported storage. */
  storage: { used: number, quota: number, free: number }
  pins: PinStatus[]
}

export interface KeyRotation {
  workspaceId: string
  keyVersion: number
  keyFingerprint: string
}

/** State changes, for dashboards and logs. */
export type OrchestratorEvent =
  | { type: 'workspace:created', workspaceId: string }
  | { type: 'workspace:key-rotated', workspaceId: string, keyVersion: number, keyFingerprint: string }
  | { type: 'node:created', nodeId: string }
  | { type: 'node:online', nodeId: string }
  | { type: 'node:offline', nodeId: string }
  | { type: 'node:storage', nodeId: string, storage: NodeStorage }
  | { type: 'member:added', workspaceId: string, nodeId: string }
  | { type: 'member:removed', workspaceId: string, nodeId: string }
  | { type: 'peer:ready', workspaceId: string, nodeId: string, peerId: string, addresses: string[] }
  | { type: 'pin:added', workspaceId: string, cid: string }
  | { type: 'pin:removed', workspaceId: string, cid: string }
  | { type: 'allocation', workspaceId: string, cid: string, nodeId: string, state: AllocationState | 'removed', error?: { code: string, message: string } }

export interface OrchestratorAddresses {
  /** WebSocket URL for nodes (`ws://` or `wss://`). */
  url: string
  /** Base URL of the admin API (`http://` or `https://`). */
  adminUrl: string
  /** The dashboard page (`http://host:port/dashboard/`) when `dashboard` is on. */
  dashboardUrl?: string
}

export interface Orchestrator {
  /** The admin API's bearer token (also the dashboard's admin login). */
  readonly adminToken: string
  /** Opens the database (migrating it), builds the admin app and listens. */
  start(): Promise<OrchestratorAddresses>
  /** Closes every node connection, the server and the database. */
  stop(): Promise<void>
  /** Resolves once the work started by received frames and timers (placement runs) is done. */
  idle(): Promise<void>
  /**
   * {@link idle}, and the batched work (placement of the workspaces marked,
   * coalesced `bootstrap_update`s) done now instead of at its timer: after it,
   * every message this instance will send for what happened so far is sent.
   */
  settled(): Promise<void>
  /**
   * Whether this instance places pins and re-pins: always when it is alone on
   * its database; on PostgreSQL, the instance holding the placement lease.
   */
  readonly isLeader: boolean

  createWorkspace(init: { id?: string, name: string }): Promise<WorkspaceInfo>
  listWorkspaces(): Promise<WorkspaceInfo[]>
  getWorkspace(workspaceId: string): Promise<WorkspaceInfo>
  /** Generates a new swarm key (version + 1) and sends it to online members; offline ones get it on reconnect. */
  rotateKey(workspaceId: string): Promise<KeyRotation>

  createNode(init: { name: string }): Promise<CreatedNode>
  listNodes(): Promise<NodeInfo[]>
  getNode(nodeId: string): Promise<NodeInfo>

  addMember(workspaceId: string, nodeId: string): Promise<void>
  /** Removes the node from the workspace; an online node gets `workspace_left` (and `purge`). Its pins are placed elsewhere. */
  removeMember(workspaceId: string, nodeId: string, options?: { purge?: boolean }): Promise<void>

  pin(workspaceId: string, request: PinRequest): Promise<PinStatus>
  unpin(workspaceId: string, cid: string): Promise<void>
  /**
   * Puts a copy on one chosen member (online or not: an offline one gets it when it comes back).
   * Creates the pin when needed (`replicationMin` default 1); when the pin already has
   * `replicationMax` copies elsewhere, `replicationMax` grows by one so the chosen copy stays.
   */
  pinOnNode(workspaceId: string, nodeId: string, request: PinRequest): Promise<PinStatus>
  /**
   * Removes the copy on one member. `replicationMax` shrinks by one (not below `replicationMin`);
   * if fewer than `replicationMin` copies remain, one is placed on another online member.
   * @throws {NotFoundError} no such pin or no copy on that node
   * @throws {ConflictError} the pin wants a copy on every member (`replicationMax: -1`), or no
   * other online member could take the copy that `replicationMin` needs
   */
  unpinOnNode(workspaceId: string, nodeId: string, cid: string): Promise<void>
  pinStatus(workspaceId: string, cid: string): Promise<PinStatus>
  workspaceStatus(workspaceId: string): Promise<WorkspaceStatus>

  /** Subscribes to state changes; returns the unsubscribe function. */
  onChange(listener: (event: OrchestratorEvent) => void): () => void

  /**
   * The workspace's current swarm key (64 hex characters), for an in-process
   * gateway. Library only: no route returns it. Keep it in memory, never log it.
   */
  swarmKeyFor(workspaceId: string): Promise<string>
  /**
   * Re-encrypts every swarm key under a new key-encryption key (`null`: stores
   * them in plain text) in one transaction; returns how many keys. Give the new
   * KEK to the next start. See also `rotateKeyEncryptionKey()` for a stopped orchestrator.
   */
  rotateKeyEncryptionKey(next: string | Uint8Array | null): Promise<number>
  /** Sends the extra bootstrap peers (`extraBootstrapPeers`, the gateway) to the workspace's ready members now. */
  announceBootstrapPeers(workspaceId: string): Promise<void>
}
