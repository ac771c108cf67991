/** Options and shape of the composed orchestrator server (orchestrator + gateway + dashboard on one port). */
import type { DashboardInit } from '../dashboard/types.js'
import type { WorkspaceGateway } from '../gateway/types.js'
import type { Orchestrator, OrchestratorInit } from '../orchestrator/types.js'

/** Dashboard options when the server serves it (`dashboard: { ... }`); the gateway is the server's own. */
export type OrchestratorDashboardInit = Omit<DashboardInit, 'orchestrator' | 'gateway'>

/**
 * The workspace gateway the server runs (`gateway: { ... }`): an embedded
 * storage node that joins every workspace, takes dashboard uploads, serves
 * downloads, and is given to member nodes as an always-on bootstrap peer.
 */
export interface OrchestratorGatewayInit {
  /** Where the gateway's storage node keeps its blocks (`<storagePath>/otherthing-storage`). */
  storagePath: string
  /** Staging room for uploads, in bytes. @default 1 GiB */
  quotaBytes?: number
  /** libp2p listen addresses of each workspace node. @default ['/ip4/127.0.0.1/tcp/0'] */
  listenAddresses?: string[]
  /** Copies wanted for an upload unless told otherwise. @default 2 */
  replication?: number
  /** Keep the gateway's own copy after the members hold `replicationMin` copies. @default false */
  keepUploads?: boolean
  /** Timeout of a download's block fetches, in ms. @default 60000 */
  fetchTimeoutMs?: number
}

export interface OrchestratorServerInit extends OrchestratorInit {
  /**
   * Serve the dashboard on the orchestrator's port under `/dashboard/` (`true`, or its options).
   * It uses the gateway (below) for uploads and downloads when there is one.
   * @default false
   */
  dashboard?: boolean | OrchestratorDashboardInit
  /**
   * Run a workspace gateway: either its options (the server creates the
   * storage node and stops it), or a function that builds one for this
   * orchestrator. It joins every workspace and becomes an extra bootstrap peer.
   * @default none
   */
  gateway?: OrchestratorGatewayInit | ((orchestrator: Orchestrator) => WorkspaceGateway | Promise<WorkspaceGateway>)
}

/** An orchestrator with its gateway and dashboard: the orchestrator's whole API, plus the gateway. */
export interface OrchestratorServer extends Orchestrator {
  /** The orchestrator underneath. */
  readonly orchestrator: Orchestrator
  /** The workspace gateway, when `gateway` was given (set once started, cleared by `stop()`). */
  readonly gateway: WorkspaceGateway | undefined
}
