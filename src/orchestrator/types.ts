import type { AllocationState } from './store.js'

export type { AllocationState }

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
  /** Copies confirmed pinned (`state === 'pinned'`). */
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
}

export interface Orchestrator {
  /** The admin API's bearer token. */
  readonly adminToken: string
  /** Opens the database (migrating it), builds the admin app and listens. */
  start(): Promise<OrchestratorAddresses>
  /** Closes every node connection, the server and the database. */
  stop(): Promise<void>

  createWorkspace(init: { id?: string, name: string }): WorkspaceInfo
  listWorkspaces(): WorkspaceInfo[]
  getWorkspace(workspaceId: string): WorkspaceInfo
  /** Generates a new swarm key (version + 1) and sends it to online members; offline ones get it on reconnect. */
  rotateKey(workspaceId: string): KeyRotation

  createNode(init: { name: string }): CreatedNode
  listNodes(): NodeInfo[]
  getNode(nodeId: string): NodeInfo

  addMember(workspaceId: string, nodeId: string): void
  /** Removes the node from the workspace; an online node gets `workspace_left` (and `purge`). Its pins are placed elsewhere. */
  removeMember(workspaceId: string, nodeId: string, options?: { purge?: boolean }): void

  pin(workspaceId: string, request: PinRequest): PinStatus
  unpin(workspaceId: string, cid: string): void
  pinStatus(workspaceId: string, cid: string): PinStatus
  workspaceStatus(workspaceId: string): WorkspaceStatus

  /** Subscribes to state changes; returns the unsubscribe function. */
  onChange(listener: (event: OrchestratorEvent) => void): () => void
}
