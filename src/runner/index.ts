/**
 * @packageDocumentation
 *
 * `otherthing-storage/runner`: the node runner (a storage node + orchestrator
 * client + local HTTP API in one process), the local HTTP API on its own
 * (`buildApp`), the CLI, the logger, the HTTP upload/download client, the
 * Electron IPC handlers, `IPFSManager` and the demo. These load fastify, pino
 * and commander, which the package root does not.
 *
 * @example
 * ```ts
 * import { startNodeRunner } from 'otherthing-storage/runner'
 *
 * const runner = await startNodeRunner({ storagePath: '/mnt/data', quota: '50GB', apiPort: 0 })
 * console.log(runner.url, runner.token)
 * await runner.stop()
 * ```
 */
// Must come first: Helia 7 / libp2p 3 need Promise.withResolvers (Node 22+).
import '../polyfill.js'

// Local HTTP API (storage routes + Kubo RPC subset)
export { buildApp, HttpError, describeError } from './http/index.js'
export type { BuildAppInit, HttpApp, HttpErrorInfo, ErrorBody, KuboErrorBody } from './http/index.js'

export { startNodeRunner, DEFAULT_RUNNER_LISTEN } from './node-runner.js'
export type { NodeRunner, NodeRunnerInit, StandaloneWorkspace } from './node-runner.js'
export { buildCli, runCli, main } from './cli.js'
export type { CliIo } from './cli.js'
export { createLogger, REDACTED_FIELDS } from './logger.js'
export type { CreateLoggerInit, Logger } from './logger.js'
export { runDemo } from './demo.js'
export type { DemoInit, DemoResult } from './demo.js'
export { uploadFile, downloadToFile, openDownload } from './api-client.js'
export type { ApiTarget, UploadOptions, UploadResult, TransferOptions } from './api-client.js'

// Electron integration
export { registerIpcHandlers, IPC_CHANNELS, validateCidArg, validatePathArg } from './ipc.js'
export type { IpcMainLike, IpfsIpcTarget, IpfsStatus, IpfsStats, IpcChannel } from './ipc.js'
export { IPFSManager } from './ipfs-manager.js'
export type { IPFSManagerInit } from './ipfs-manager.js'
