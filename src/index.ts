/**
 * @packageDocumentation
 *
 * otherthing-storage: embedded IPFS (Helia) storage for workspaces. Every
 * workspace a machine joins gets its own private libp2p swarm (pnet), its own
 * blockstore and datastore, and one hard quota covers them all.
 *
 * The root is what a storage node needs (it loads no fastify, better-sqlite3,
 * commander or pino). The orchestrator, its server, the gateway, the dashboard
 * and the node runner are subpaths: `otherthing-storage/orchestrator`,
 * `otherthing-storage/server`, `otherthing-storage/gateway`,
 * `otherthing-storage/dashboard`, `otherthing-storage/runner`; `otherthing-storage/node` and
 * `otherthing-storage/blockstore` give those modules alone.
 *
 * @example
 * ```ts
 * import { createStorageNode, generateSwarmKey } from 'otherthing-storage'
 *
 * const node = await createStorageNode({ storagePath: '/mnt/data', quotaBytes: 10 * 2 ** 30 })
 * const ws = await node.join('team-alpha', generateSwarmKey())
 * const { cid } = await ws.add(new TextEncoder().encode('hello world'))
 * await node.stop()
 * ```
 */
// Must come first: Helia 7 / libp2p 3 need Promise.withResolvers (Node 22+).
import './polyfill.js'

export * from './errors.js'

// Swarm keys
export { SwarmKey, SWARM_KEY_HEADER, SWARM_KEY_LENGTH, formatSwarmKey, generateSwarmKey, parseSwarmKey, swarmKeyToPsk } from './swarm-key/index.js'
export type { SwarmKeyEncoding } from './swarm-key/index.js'

// Storage root, layout, drives and node-config.json
export { validateWorkspaceId, isValidWorkspaceId, MAX_WORKSPACE_ID_LENGTH } from './storage/workspace-id.js'
export { createStorageLayout, STORAGE_DIR_NAME } from './storage/layout.js'
export type { StorageLayout, WorkspaceRepoPaths, WorkspaceDirs } from './storage/layout.js'
export { listDrives, getFreeSpace, parseProcMounts } from './storage/drives.js'
export type { DriveInfo, FreeSpace, ListDrivesOptions, MountEntry } from './storage/drives.js'
export { validateStoragePath, assertStoragePath } from './storage/validate.js'
export type { StoragePathCheck, StoragePathOk, StoragePathFailure, StoragePathFailureCode, ValidateStoragePathOptions } from './storage/validate.js'
export { resolveStorageRoot, defaultAppDataDir, APP_DIR_NAME } from './storage/app-data.js'
export type { ResolveStorageRootInit, ResolvedStorageRoot } from './storage/app-data.js'
export { readNodeConfig, writeNodeConfig, defaultNodeConfig, validateNodeConfig, nodeConfigSchema, NODE_CONFIG_VERSION, DEFAULT_QUOTA_BYTES, DEFAULT_API_HOST, DEFAULT_API_PORT } from './storage/node-config.js'
export type { NodeConfig } from './storage/node-config.js'
export { parseByteSize, formatBytes } from './storage/bytes.js'
export { acquireStorageLock, LOCK_FILE_NAME } from './storage/lock.js'
export type { StorageLock, LockHolder } from './storage/lock.js'

// Hard quota
export { createQuotaLedger, createQuotaBlockstore, scanFsBlockstore, scanBlockstore, defaultReserveBytes } from './blockstore/index.js'
export type { QuotaLedger, QuotaLedgerInit, QuotaUsage, QuotaBlockstore, QuotaBlockstoreInit, FreshTarget, FreshWriteResult, StatFsFn, StatFsResult, ScanResult, ScanFsOptions } from './blockstore/index.js'

// The orchestrator <-> node protocol and the orchestrator client a node runs
export * from './protocol/index.js'
export * from './client/index.js'

// Private workspace nodes and the multi-workspace storage node
export { createStorageNode, createWorkspaceNode, DEFAULT_LISTEN_ADDRESSES, DEFAULT_MAX_CONNECTIONS, PROFILES } from './node/index.js'
export type { StorageNodeInit, WorkspaceNodeInit, ManagedWorkspaceNode, QuotaHooks, BandwidthLimits, ImportProfile } from './node/index.js'
export type * from './node/types.js'
