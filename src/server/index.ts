/**
 * The composition root: an orchestrator with its workspace gateway and its
 * dashboard on one port. The orchestrator knows neither: they are wired here
 * through its hooks (`plugins`, `extraBootstrapPeers`, `onChange`).
 *
 * @example
 * ```ts
 * const server = createOrchestratorServer({ dataDir: './state', dashboard: true, gateway: { storagePath: './gateway' } })
 * const { url, dashboardUrl } = await server.start() // log in with server.adminToken
 * ```
 */
// Entry point of `otherthing-storage/server`: Helia 7 / libp2p 3 need Promise.withResolvers (Node 22+).
import '../polyfill.js'

export { createOrchestratorServer } from './server.js'
export type * from './types.js'
