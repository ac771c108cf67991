/**
 * The workspace gateway's contract: an embedded storage node on the
 * orchestrator's side, and what it needs from the orchestrator.
 */
import type { AbortOptions, AddSource, StorageNode, WorkspaceNode } from '../node/types.js'
import type { Orchestrator, OrchestratorLogger, PinStatus } from '../orchestrator/types.js'
import type { SwarmKey } from '../swarm-key/index.js'

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
  /** Where failed joins, dials and releases are logged. @default silent */
  logger?: OrchestratorLogger
}
