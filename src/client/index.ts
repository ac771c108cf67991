/**
 * The orchestrator client: connects a StorageNode to an orchestrator with a
 * node token, joins the workspaces it is given keys for, pins what it is
 * asked to, reports storage, and reconnects with backoff.
 *
 * @example
 * ```ts
 * import { createStorageNode } from './node/index.js'
 * import { createOrchestratorClient } from './client/index.js'
 * const storageNode = await createStorageNode({ storagePath: '/data', quotaBytes: 10 * 2 ** 30 })
 * const client = createOrchestratorClient({ url: 'ws://127.0.0.1:7420/ws', token, storageNode })
 * await client.start()
 * ```
 */
export { createOrchestratorClient } from './client.js'
export type { OrchestratorClient, OrchestratorClientInit, ClientEvent, ClientLogger } from './types.js'
export { isLoopbackHost } from './url.js'
export { backoffDelay } from './backoff.js'
