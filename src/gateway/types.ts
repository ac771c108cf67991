/**
 * The workspace gateway's contract: an embedded storage node on the
 * orchestrator's side, and what it needs from the orchestrator.
 */
import type { AbortOptions, AddAllEntry, AddSource, StorageNode, WorkspaceNode } from '../node/types.js'
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

export interface UploadFolderOptions extends AbortOptions {
  /** Name recorded with the pin. @default the root's path (the folder's name), `folder` for a wrapper */
  name?: string
  /** @default the gateway's `replication` */
  replicationMin?: number
  /** @default replicationMin */
  replicationMax?: number
  /** Put the entries in a directory without a name (several top-level names). @default false */
  wrapWithDirectory?: boolean
  /** Keep hidden files. @default false */
  hidden?: boolean
  /** Files read at once (1 when the entries come from one multipart stream). */
  fileConcurrency?: number
}

export interface UploadFolderResult extends UploadResult {
  /** Files and folders added, the root included. */
  entries: number
  /** The name the pin was recorded with. */
  name: string
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
  /**
   * Imports a folder tree (all or nothing), then pins it on members as `upload` does: checked against the
   * members' free space, and the gateway's own pin dropped once they hold `replicationMin` copies.
   */
  uploadFolder(workspaceId: string, source: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>, options?: UploadFolderOptions): Promise<UploadFolderResult>
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
