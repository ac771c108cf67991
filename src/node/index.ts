/**
 * @packageDocumentation
 *
 * Private workspace nodes (one Helia node per workspace, pnet + bitswap only)
 * and the multi-workspace storage node that shares one hard quota between them.
 *
 * @example
 * ```ts
 * import { createStorageNode } from 'otherthing-storage/node'
 *
 * const node = await createStorageNode({ storagePath: '/mnt/data', quotaBytes: 10 * 2 ** 30 })
 * const ws = await node.join('team-alpha', swarmKeyHex)
 * const { cid } = await ws.add(new TextEncoder().encode('hello world'))
 * await node.stop()
 * ```
 */
// Helia 7 / libp2p 3 call Promise.withResolvers (Node 22+): loaded first, also for this subpath alone
import '../polyfill.js'

export { createStorageNode } from './storage-node.js'
export type { StorageNodeInit } from './storage-node.js'
export { createWorkspaceNode } from './workspace-node.js'
export type { WorkspaceNodeInit, ManagedWorkspaceNode, QuotaHooks } from './workspace-node.js'
export type { OpenRepo, Repo, RepoBlockstore, RepoDatastore, RepoStores } from './repo.js'
export type { BandwidthLimits } from './bandwidth.js'
export { DEFAULT_LISTEN_ADDRESSES, DEFAULT_MAX_CONNECTIONS } from './libp2p-config.js'
export { PROFILES } from './profiles.js'
export type { ImportProfile } from './profiles.js'
export type * from './types.js'
