/**
 * @packageDocumentation
 *
 * otherthing-storage: embedded IPFS (Helia) storage for workspaces. Every
 * workspace a machine joins gets its own private libp2p swarm (pnet), its own
 * blockstore and datastore, and one hard quota covers them all.
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
export type { QuotaLedger, QuotaLedgerInit, QuotaUsage, QuotaBlockstore, QuotaBlockstoreInit, StatFsFn, StatFsResult, ScanResult, ScanFsOptions } from './blockstore/index.js'

// Orchestrator side: protocol, orchestrator, orchestrator client
export * from './protocol/index.js'
export * from './orchestrator/index.js'
export * from './server/index.js'
export * from './client/index.js'

// Node runner: local HTTP API (storage routes + Kubo RPC subset)
export { buildApp } from './runner/http/index.js'
export type { BuildAppInit, HttpApp } from './runner/http/index.js'

export { startNodeRunner, DEFAULT_RUNNER_LISTEN } from './runner/node-runner.js'
export type { NodeRunner, NodeRunnerInit, StandaloneWorkspace } from './runner/node-runner.js'
export { buildCli, runCli } from './runner/cli.js'
export type { CliIo } from './runner/cli.js'
export { createLogger, REDACTED_FIELDS } from './runner/logger.js'
export type { CreateLoggerInit, Logger } from './runner/logger.js'
export { runDemo } from './runner/demo.js'
export type { DemoInit, DemoResult } from './runner/demo.js'
export { uploadFile, downloadToFile, openDownload } from './runner/api-client.js'
export type { ApiTarget, UploadOptions, UploadResult, TransferOptions } from './runner/api-client.js'

// Electron integration
export { registerIpcHandlers, IPC_CHANNELS, validateCidArg, validatePathArg } from './runner/ipc.js'
export type { IpcMainLike, IpfsIpcTarget, IpfsStatus, IpfsStats, IpcChannel } from './runner/ipc.js'
export { IPFSManager } from './runner/ipfs-manager.js'
export type { IPFSManagerInit } from './runner/ipfs-manager.js'

// Private workspace nodes and the multi-workspace storage node
export { createStorageNode, createWorkspaceNode, DEFAULT_LISTEN_ADDRESSES, DEFAULT_MAX_CONNECTIONS, PROFILES } from './node/index.js'
export type { StorageNodeInit, WorkspaceNodeInit, ManagedWorkspaceNode, QuotaHooks, BandwidthLimits, ImportProfile } from './node/index.js'
export type * from './node/types.js'

// Dashboard storage tab and the workspace gateway
export { createDashboardServer, buildDashboardApp, registerDashboard, createWorkspaceGateway, swarmKeyFromDatabase } from './dashboard/index.js'
export type { DashboardInit, DashboardServerInit, DashboardServer, DashboardApp, DashboardOrchestrator, NodePinControl, MemberToken, WorkspaceGateway, WorkspaceGatewayInit, UploadOptions as GatewayUploadOptions, UploadResult as GatewayUploadResult, GatewayWorkspaceInfo, DashboardWorkspaceStatus, DashboardErrorBody } from './dashboard/index.js'
