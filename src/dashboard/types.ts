/**
 * Types of the dashboard: what it needs from the orchestrator and its options
 * (the workspace gateway's contract is in `../gateway/types.ts`).
 */
import type { Orchestrator, OrchestratorLogger, PinRequest, PinStatus } from '../orchestrator/types.js'
import type { WorkspaceGateway } from '../gateway/types.js'

export type { WorkspaceGateway, WorkspaceGatewayInit, UploadOptions, UploadResult, GatewayWorkspaceInfo } from '../gateway/types.js'

/** The part of the orchestrator the dashboard reads and drives. */
export type DashboardOrchestrator = Pick<Orchestrator,
'adminToken' | 'listWorkspaces' | 'getWorkspace' | 'workspaceStatus' | 'listNodes' | 'getNode' |
'pin' | 'unpin' | 'pinStatus' | 'onChange'> & NodePinControl

/** Manual pin/unpin on one node (the orchestrator's `pinOnNode` / `unpinOnNode`), used by the node view. */
export interface NodePinControl {
  pinOnNode(workspaceId: string, nodeId: string, request: PinRequest): Promise<PinStatus>
  unpinOnNode(workspaceId: string, nodeId: string, cid: string): Promise<void>
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
  /** Where unexpected errors are logged. @default silent */
  logger?: OrchestratorLogger
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

