/**
 * The workspace gateway: an embedded storage node on the orchestrator's side
 * that joins every workspace, takes browser uploads, serves downloads and is
 * an always-on bootstrap peer. `createOrchestratorServer` (src/server/) wires
 * it to an orchestrator; it can also run alone over any orchestrator-like object.
 *
 * @example
 * ```ts
 * const gateway = createWorkspaceGateway({ storageNode, orchestrator })
 * await gateway.join('ws-1')
 * ```
 */
// Entry point of `otherthing-storage/gateway`: Helia 7 / libp2p 3 need Promise.withResolvers (Node 22+).
import '../polyfill.js'

export { createWorkspaceGateway } from './gateway.js'
export { swarmKeyFromDatabase } from './keys.js'
export type { SwarmKeyLookup } from './keys.js'
export type * from './types.js'
