/**
 * The orchestrator: one private swarm key per workspace, node tokens, peer
 * bootstrap, pin placement and re-pinning, state in SQLite, a WebSocket
 * endpoint for nodes and a JSON admin API on the same port.
 *
 * @example
 * ```ts
 * import { createOrchestrator } from './orchestrator/index.js'
 * const orch = createOrchestrator({ dataDir: './state', port: 7420 })
 * const { url, adminUrl } = await orch.start()
 * const ws = orch.createWorkspace({ name: 'Team' })
 * const { node, token } = orch.createNode({ name: 'laptop' })
 * orch.addMember(ws.id, node.id)
 * orch.pin(ws.id, { cid: 'bafy...', replicationMin: 2, replicationMax: 3 })
 *
 * // with the dashboard on the same port and an always-on workspace gateway
 * const full = createOrchestrator({ dataDir: './state', dashboard: true, gateway: { storagePath: './gateway' } })
 * const { dashboardUrl } = await full.start() // log in with full.adminToken
 * ```
 */
export { createOrchestrator, normaliseCid, DATABASE_FILE_NAME, CLOSE_CODES, ERR_PROTOCOL_VERSION, BOOTSTRAP_COALESCE_MS } from './orchestrator.js'
export { buildAdminApp } from './admin-api.js'
export type { AdminAppInit } from './admin-api.js'
export { openOrchestratorStore, SCHEMA_VERSION, ALLOCATION_STATES } from './store.js'
export type { OrchestratorStore, OrchestratorStoreInit } from './store.js'
export { chooseNodes, chooseSurplus, targetCopies } from './placement.js'
export type { PlacementCandidate } from './placement.js'
export type * from './types.js'
