/**
 * Types of the dashboard: what it needs from the orchestrator, its options,
 * and the workspace gateway's contract.
 */
import type { AbortOptions, AddSource, StorageNode, WorkspaceNode } from '../node/types.js'
import type { Orchestrator, PinRequest, PinStatus } from '../orchestrator/types.js'
import type { SwarmKey } from '../swarm-key/index.js'

/** The part of the orchestrator the dashboard reads and drives. */
export type DashboardOrchestrator = Pick<Orchestrator,
'adminToken' | 'listWorkspaces' | 'getWorkspace' | 'workspaceStatus' | 'listNodes' | 'getNode' |
'pin' | 'unpin' | 'pinStatus' | 'onChange'> & NodePinControl

/** Manual pin/unpin on one node (the orchestrator's `pinOnNode` / `unpinOnNode`), used by the node view. */
export interface NodePinControl {
  pinOnNode(workspaceId: string, nodeId: string, request: PinRequest): PinStatus
  unpinOnNode(workspaceId: string, nodeId: string, cid: string): void
}

/** A member login: this token opens these workspaces (read and write). */
export interface MemberToken {
  token: string
  workspaceIds: string[]
}

export interface DashboardInit {
  orchestrator: DashboardOrchestrator
  /** Enables upload and download. Without it those routes answer 501 `ERR_GATEWAY_DISABLED`. */
  gateway?: WorkspaceGateway
  /** Per-workspace member tokens accepted by the login form (besides the admin token). @default [] */
  memberTokens?: MemberToken[]
  /** URL prefix of the page and its API. @default '/dashboard' */
  prefix?: string
  /** Session lifetime in ms. @default 43200000 (12 h) */
  sessionTtlMs?: number
  /** Add `Secure` to the session cookie (set it when served over https). @default false */
  secureCookie?: boolean
  /** Largest accepted upload in bytes. @default Number.MAX_SAFE_INTEGER (the quotas decide) */
  maxUploadBytes?: number
  /** Copies wanted for a browser upload or a pin by CID, unless the request says otherwise. @default 2 */
  defaultReplication?: number
  /** SSE keep-alive comment interval in ms. @default 15000 */
  keepAliveMs?: number
}

export interface DashboardServerInit extends DashboardInit {
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 7421 */
  port?: number
}

export interface DashboardServer {
  /** Listens; returns the page URL, e.g. `http://127.0.0.1:7421/dashboard/`. */
  start(): Promise<string>
  stop(): Promise<void>
  /** The page URL once started. */
  readonly url: string
}

export interface UploadOptions extends AbortOptions {
  /** File name recorded with the pin. */
  name?: string
  /** Declared size (Content-Length) for an early quota check. */
  size?: number
  /** @default the gateway's `replication` */
  replicationMin?: number
  /** @default replicationMin */
  replicationMax?: number
}

export interface UploadResult {
  cid: string
  size: number
  pin: PinStatus
}

export interface GatewayWorkspaceInfo {
  workspaceId: string
  peerId: string
  addresses: string[]
  keyFingerprint: string
}

/**
 * An embedded storage node on the orchestrator's side: joins workspaces with
 * their keys (in memory), takes browser uploads and serves downloads, and
 * places the pins on member nodes through the orchestrator.
 */
export interface WorkspaceGateway {
  readonly storageNode: StorageNode
  /** Joins (once) and dials the workspace's online members. */
  join(workspaceId: string, options?: AbortOptions): Promise<WorkspaceNode>
  /** Imports `source` (streamed, checked against the gateway's quota and the workspace's free space), then pins it on members. */
  upload(workspaceId: string, source: AddSource, options?: UploadOptions): Promise<UploadResult>
  /** Streams pinned content from the workspace swarm. */
  cat(workspaceId: string, cid: string, options?: AbortOptions & { timeout?: number }): AsyncIterable<Uint8Array>
  /** The gateway's peer of each joined workspace (its addresses make a bootstrap peer). */
  workspaces(): GatewayWorkspaceInfo[]
  /** Multiaddrs of the gateway in a workspace ([] when not joined). */
  bootstrapAddresses(workspaceId: string): string[]
  stop(): Promise<void>
}

export interface WorkspaceGatewayInit {
  /** The embedded storage node (from `createStorageNode`). The gateway stops it on `stop()` unless `ownsStorageNode: false`. */
  storageNode: StorageNode
  /** @default true */
  ownsStorageNode?: boolean
  orchestrator: Pick<Orchestrator, 'pin' | 'pinStatus' | 'workspaceStatus' | 'onChange'> & Partial<Pick<Orchestrator, 'swarmKeyFor'>>
  /**
   * The workspace's current swarm key (kept in memory by the node, never written).
   * @default the orchestrator's `swarmKeyFor` (in-process); use `swarmKeyFromDatabase` from another process
   */
  swarmKey?: (workspaceId: string) => string | Uint8Array | SwarmKey | Promise<string | Uint8Array | SwarmKey>
  /** Copies wanted for an upload unless told otherwise. @default 2 */
  replication?: number
  /** Keep the gateway's own copy after the members hold `replicationMin` copies. @default false */
  keepUploads?: boolean
  /** Timeout of a download's block fetches, in ms. @default 60000 */
  fetchTimeoutMs?: number
}
