/**
 * The orchestrator: one private swarm key per workspace, node tokens, peer
 * bootstrap, pin placement and re-pinning, state in SQLite, a WebSocket
 * endpoint for nodes and a JSON admin API on the same port.
 *
 * @example
 * ```ts
 * import { createOrchestrator } from 'otherthing-storage/orchestrator'
 * const orch = createOrchestrator({ dataDir: './state', port: 7420 })
 * const { url, adminUrl } = await orch.start()
 * const ws = await orch.createWorkspace({ name: 'Team' })
 * const { node, token } = await orch.createNode({ name: 'laptop' })
 * await orch.addMember(ws.id, node.id)
 * await orch.pin(ws.id, { cid: 'bafy...', replicationMin: 2, replicationMax: 3 })
 *
 * // with the dashboard on the same port and an always-on workspace gateway: see createOrchestratorServer (src/server/)
 * ```
 */
// Entry point of `otherthing-storage/orchestrator`: Helia 7 / libp2p 3 need Promise.withResolvers (Node 22+).
import '../polyfill.js'

export { createOrchestrator, normaliseCid, DATABASE_FILE_NAME, CLOSE_CODES, ERR_PROTOCOL_VERSION, BOOTSTRAP_COALESCE_MS } from './orchestrator.js'
export { createOrchestratorCore } from './core.js'
export type { OrchestratorCore, OrchestratorCoreInit } from './core.js'
export { createManualTime, systemClock, systemScheduler } from './clock.js'
export type { Clock, Scheduler, TimerHandle, ManualTime } from './clock.js'
export type { NodeConnection } from './state.js'
export type { Frame, HubSession } from './session-hub.js'
export { buildAdminApp } from './admin-api.js'
export type { AdminAppInit } from './admin-api.js'
export {
  openOrchestratorStore, SCHEMA_VERSION, ALLOCATION_STATES, parseKeyEncryptionKey, resolveKeyEncryptionKey,
  rotateKeyEncryptionKey, KEK_ENV, KEK_FILE_ENV
} from './store/index.js'
export type { OrchestratorStore, OrchestratorStoreInit, KeyEncryptionKey, KeyEncryptionKeySource, RotateKeyEncryptionKeyInit, WorkspaceRow, NodeRow, PinRow, AllocationRow, PeerRow } from './store/index.js'
export { chooseNodes, chooseSurplus, targetCopies } from './placement.js'
export type { PlacementCandidate } from './placement.js'
export { planPin, planPinSync, countsAsCopy, countedCopies, ACTIVE_STATES } from './planner.js'
export type { PlacementSnapshot, PinPlan, PinPlanInput, PinSyncAction } from './planner.js'
export type * from './types.js'
export type { AsyncOrchestratorStore, AsyncStoreOperations, AsyncStoreTransaction } from './store/async-store.js'
export { singleInstance } from './cluster/link.js'
export type { ClusterLink } from './cluster/link.js'
