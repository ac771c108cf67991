/**
 * The workspace storage dashboard: a page and JSON API over the orchestrator
 * (login with the admin token or a member token), live updates over
 * server-sent events, and the workspace gateway for browser uploads and
 * downloads.
 *
 * @example
 * ```ts
 * import { createDashboardServer } from 'otherthing-storage/dashboard'
 *
 * const dashboard = createDashboardServer({ orchestrator, gateway, port: 7421 })
 * console.log('Dashboard:', await dashboard.start())
 * ```
 */
// Entry point of `otherthing-storage/dashboard`: Helia 7 / libp2p 3 need Promise.withResolvers (Node 22+).
import '../polyfill.js'

export { registerDashboard, dashboardStatus, toErrorReply } from './routes.js'
export type { DashboardErrorBody, DashboardWorkspaceStatus } from './routes.js'
export { buildDashboardApp, createDashboardServer } from './server.js'
export type { DashboardApp } from './server.js'
// the gateway lives in ../gateway/ now; re-exported here for existing imports
export { createWorkspaceGateway, swarmKeyFromDatabase } from '../gateway/index.js'
export type { SwarmKeyLookup } from '../gateway/index.js'
export type * from './types.js'
