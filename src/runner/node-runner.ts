/**
 * The node runner: everything a machine runs to be a storage node.
 *
 * 1. resolves the storage path (the selected one when it validates, else the
 *    app-data folder) and loads `node-config.json` from it, or creates it;
 * 2. applies the caller's overrides (quota, orchestrator, API port...) and
 *    generates the API bearer token on first start; saves the config;
 * 3. creates the storage node and joins any standalone workspaces;
 * 4. connects the orchestrator client when a URL and a token are configured;
 * 5. serves the local HTTP API (`buildApp` + listen, 127.0.0.1 by default).
 *
 * `stop()` stops taking requests, gives in-flight ones a grace period, then
 * aborts them, disconnects from the orchestrator and stops the nodes.
 * Swarm keys are never logged nor written: the log has their fingerprints.
 */
import { resolveStorageRoot } from '../storage/app-data.js'
import { parseByteSize } from '../storage/bytes.js'
import { createStorageLayout } from '../storage/layout.js'
import type { StorageLayout } from '../storage/layout.js'
import { acquireStorageLock } from '../storage/lock.js'
import type { StorageLock } from '../storage/lock.js'
import { defaultNodeConfig, readNodeConfig, writeNodeConfig } from '../storage/node-config.js'
import { parseSwarmKey } from '../swarm-key/index.js'
import { createOrchestratorClient } from '../client/index.js'
import { OrchestratorRefusedError } from '../errors.js'
import { createStorageNode } from '../node/index.js'
import { removeApiFile, writeApiFile } from './api-file.js'
import { buildApp } from './http/index.js'
import { generateToken } from '../util/tokens.js'
import { silentLogger } from './logger.js'
import type { Logger } from './logger.js'
import type { NodeConfig } from '../storage/node-config.js'
import type { StorageNode } from '../node/types.js'
import type { StorageNodeInit } from '../node/index.js'
import type { ClientEvent, OrchestratorClient, OrchestratorClientInit } from '../client/index.js'
import type { BuildAppInit } from './http/index.js'
import type { SwarmKey } from '../swarm-key/index.js'
import { throwIfAborted } from '../util/abort.js'
import { watchSwarmKey } from './key-mismatch.js'

/** A workspace to join without an orchestrator. */
export interface StandaloneWorkspace {
  id: string
  /** 64 hex characters, a Kubo `swarm.key` (text or bytes), or a parsed key. Kept in memory only. */
  swarmKey: string | Uint8Array | SwarmKey
  /** Multiaddrs (with `/p2p/<id>`) of the workspace's other peers. */
  bootstrapPeers?: string[]
}

export interface NodeRunnerInit {
  /** The storage path the user selected; falls back to `appDataDir` when unusable. */
  storagePath?: string
  /** @default the platform app-data folder (see `defaultAppDataDir`) */
  appDataDir?: string
  /** Quota in bytes or as text (`'50GB'`); saved to the config. @default the config's (10 GiB for a new one) */
  quota?: number | string
  /** Orchestrator URL; saved to the config. @default the config's */
  orchestratorUrl?: string
  /** Node token for the orchestrator; saved to the config. @default the config's */
  orchestratorToken?: string
  /** @default the config's (`127.0.0.1`) */
  apiHost?: string
  /** @default the config's (5080); 0 picks a free port (not saved) */
  apiPort?: number
  /**
   * Require a bearer token on the HTTP API. The token is generated into
   * `node-config.json` on first start.
   *
   * @default true
   */
  apiAuth?: boolean
  /** Serve the HTTP API at all. @default true */
  api?: boolean
  /** Workspaces to join at start (standalone use, no orchestrator). */
  workspaces?: StandaloneWorkspace[]
  /** libp2p listen addresses of every workspace node. @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** @default a silent logger */
  logger?: Logger
  /** Aborts the start (everything started so far is stopped). */
  signal?: AbortSignal
  /** More storage node options (bandwidth, reserve, timeouts...). */
  node?: Partial<Omit<StorageNodeInit, 'storagePath' | 'quotaBytes' | 'listenAddresses'>>
  /** More orchestrator client options (reconnect delays, report interval, TLS...). */
  client?: Partial<Omit<OrchestratorClientInit, 'url' | 'token' | 'storageNode' | 'nodeName' | 'logger'>>
  /** More HTTP API options (allowed hosts and origins, upload limit, timeouts...). */
  http?: Partial<Omit<BuildAppInit, 'storageNode' | 'apiToken' | 'logger'>>
  /** Logger of the HTTP API. @default `logger` at level warn (no line per request) */
  httpLogger?: BuildAppInit['logger']
  /** Grace period for in-flight HTTP requests on `stop()`, in ms. @default 5000 */
  shutdownTimeout?: number
}

export interface NodeRunner {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:5080` (empty with `api: false`). */
  readonly url: string
  /** The API bearer token (`undefined` when auth is off). */
  readonly token: string | undefined
  readonly storageNode: StorageNode
  /** The config as saved. */
  readonly config: NodeConfig
  /** Path of `node-config.json`. */
  readonly configPath: string
  /** The orchestrator client, when an orchestrator URL and token are configured. */
  readonly client: OrchestratorClient | undefined
  readonly logger: Logger
  /**
   * Resolves (never rejects) with an {@link OrchestratorRefusedError} when the
   * orchestrator refuses this node for good (wrong token...): the client has
   * stopped, the node still runs. Never settles otherwise. The CLI's `node`
   * command exits 1 on it.
   */
  readonly refused: Promise<OrchestratorRefusedError>
  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void>
}

/** Listen address of workspace nodes started by the runner when none is given. */
export const DEFAULT_RUNNER_LISTEN = ['/ip4/127.0.0.1/tcp/0']

/** One log line per client event; keys never appear, only their fingerprints. */
function logClientEvent (logger: Logger, event: ClientEvent): void {
  switch (event.type) {
    case 'connected': logger.info({ nodeId: event.nodeId }, 'connected to the orchestrator'); break
    case 'disconnected': logger[event.code === 1000 ? 'info' : 'warn']({ code: event.code }, 'disconnected from the orchestrator'); break
    case 'joined': logger.info({ workspaceId: event.workspaceId, keyVersion: event.keyVersion, fingerprint: event.keyFingerprint }, 'joined workspace'); break
    case 'left': logger.info({ workspaceId: event.workspaceId }, 'left workspace'); break
    case 'pinned': logger.info({ workspaceId: event.workspaceId, cid: event.cid, size: event.size }, 'pinned'); break
    case 'pin-failed': logger.warn({ workspaceId: event.workspaceId, cid: event.cid, error: event.error }, 'pin failed'); break
    case 'unpinned': logger.info({ workspaceId: event.workspaceId, cid: event.cid }, 'unpinned'); break
    case 'fatal': break // logged once where `refused` resolves
    case 'error': logger.warn({ error: event.error }, 'orchestrator client error'); break
  }
}

/**
 * Starts a node runner.
 *
 * @throws {InvalidStoragePathError} when neither the selected path nor the app-data folder is usable
 * @throws {InvalidConfigError} when `node-config.json` is corrupt
 * @throws {InvalidArgumentError} for a bad quota
 * @example
 * ```ts
 * const runner = await startNodeRunner({ storagePath: '/mnt/data', quota: '50GB', apiPort: 0 })
 * console.log(runner.url, runner.token)
 * await runner.stop()
 * ```
 */
export async function startNodeRunner (init: NodeRunnerInit = {}): Promise<NodeRunner> {
  const logger = init.logger ?? silentLogger()
  throwIfAborted(init.signal)
  // `init.signal` aborts the start only: what is started gets a signal that is released once start is done
  const starting = new AbortController()
  const signal = starting.signal
  const onAbort = (): void => { starting.abort(init.signal?.reason) }
  init.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    return await start(init, logger, signal)
  } finally {
    init.signal?.removeEventListener('abort', onAbort)
  }
}

async function start (init: NodeRunnerInit, logger: Logger, signal: AbortSignal): Promise<NodeRunner> {
  const quotaBytes = init.quota === undefined ? undefined : parseByteSize(init.quota)
  // parse keys first: a bad key fails before anything is created
  const workspaces = (init.workspaces ?? []).map(w => ({ ...w, key: parseSwarmKey(w.swarmKey) }))

  const root = await resolveStorageRoot({ selectedPath: init.storagePath, appDataDir: init.appDataDir, signal })
  if (root.fellBack && init.storagePath !== undefined) {
    logger.warn({ selected: init.storagePath, storagePath: root.storagePath, reason: root.reason }, 'storage path unusable, using the app-data folder')
  }
  const layout = createStorageLayout(root.storagePath)
  await layout.ensure({ signal })
  // one runner per storage path: a second one is refused here, naming the holder
  const lock = await acquireStorageLock(layout.root, { signal })
  logger.debug({ lockPath: lock.path }, 'storage path locked')
  try {
    return await startLocked(init, logger, signal, { layout, lock, quotaBytes, workspaces })
  } catch (err) {
    await lock.release()
    throw err
  }
}

interface Prepared {
  layout: StorageLayout
  lock: StorageLock
  quotaBytes: number | undefined
  workspaces: Array<StandaloneWorkspace & { key: SwarmKey }>
}

async function startLocked (init: NodeRunnerInit, logger: Logger, signal: AbortSignal, prepared: Prepared): Promise<NodeRunner> {
  const { layout, lock, quotaBytes, workspaces } = prepared
  const existing = await readNodeConfig(layout.configPath, { signal })
  let config: NodeConfig = existing ?? defaultNodeConfig({ storagePath: layout.storagePath })
  const apiAuth = init.apiAuth ?? true
  config = {
    ...config,
    storagePath: layout.storagePath,
    ...(quotaBytes !== undefined ? { quotaBytes } : {}),
    ...(init.orchestratorUrl !== undefined ? { orchestratorUrl: init.orchestratorUrl } : {}),
    ...(init.orchestratorToken !== undefined ? { orchestratorToken: init.orchestratorToken } : {}),
    ...(init.apiHost !== undefined ? { apiHost: init.apiHost } : {}),
    ...(init.apiPort !== undefined && init.apiPort !== 0 ? { apiPort: init.apiPort } : {})
  }
  if (apiAuth && config.apiToken === undefined) {
    config.apiToken = generateToken({ prefix: '' })
    logger.info({ configPath: layout.configPath }, 'generated the HTTP API bearer token')
  }
  await writeNodeConfig(layout.configPath, config, { signal })
  logger.info({ storagePath: layout.storagePath, quotaBytes: config.quotaBytes, created: existing === undefined }, 'node config loaded')

  // cleanups run in reverse: the lock is released last, once everything on the path is closed
  const cleanups: Array<() => Promise<unknown>> = [async () => { await lock.release() }]
  const runCleanups = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) {
      try { await fn() } catch (err) { logger.warn({ err }, 'error while stopping') }
    }
  }

  try {
    const storageNode: StorageNode = await createStorageNode({
      ...init.node,
      storagePath: layout.storagePath,
      quotaBytes: config.quotaBytes,
      listenAddresses: init.listen ?? DEFAULT_RUNNER_LISTEN
    })
    cleanups.push(async () => { await storageNode.stop() })
    throwIfAborted(signal)

    // a swarm key that matches no peer is said at warn level (one watcher per joined workspace node)
    const keyWatchers = new Map<string, () => void>()
    const watchKey = (workspaceId: string): void => {
      keyWatchers.get(workspaceId)?.()
      keyWatchers.set(workspaceId, watchSwarmKey(storageNode.workspace(workspaceId), logger))
    }
    cleanups.push(async () => { for (const stop of keyWatchers.values()) stop() })

    for (const w of workspaces) {
      const node = await storageNode.join(w.id, w.key, { bootstrapPeers: w.bootstrapPeers, signal })
      logger.info({ workspaceId: w.id, fingerprint: w.key.fingerprint, peerId: node.peerId }, 'joined workspace')
      watchKey(w.id)
    }

    let client: OrchestratorClient | undefined
    let onRefused: (err: OrchestratorRefusedError) => void = () => {}
    const refused = new Promise<OrchestratorRefusedError>(resolve => { onRefused = resolve })
    if (config.orchestratorUrl !== undefined && config.orchestratorToken !== undefined) {
      const c = createOrchestratorClient({
        ...init.client,
        url: config.orchestratorUrl,
        token: config.orchestratorToken,
        storageNode,
        nodeName: config.nodeName,
        logger: logger.child({ component: 'client' })
      })
      c.onEvent(event => {
        logClientEvent(logger, event)
        if (event.type === 'joined') watchKey(event.workspaceId)
        if (event.type === 'left') { keyWatchers.get(event.workspaceId)?.(); keyWatchers.delete(event.workspaceId) }
        if (event.type !== 'fatal') return
        const err = new OrchestratorRefusedError(event.error.code)
        logger.error({ url: c.currentUrl, reason: event.error.code }, `${err.message}: not reconnecting; fix the node token and restart`)
        onRefused(err)
      })
      await c.start()
      cleanups.push(async () => { await c.stop() })
      client = c
      logger.info({ url: c.currentUrl }, 'orchestrator client started')
    } else if (config.orchestratorUrl !== undefined) {
      logger.warn('an orchestrator URL is configured but no node token: not connecting')
    }

    let url = ''
    if (init.api !== false) {
      const app = buildApp({
        ...init.http,
        storageNode,
        apiToken: apiAuth ? config.apiToken as string : false,
        logger: init.httpLogger ?? logger.child({ component: 'http' }, { level: 'warn' })
      })
      const shutdownTimeout = init.shutdownTimeout ?? 5000
      cleanups.push(async () => {
        // stop taking requests (new ones get 503); in-flight ones get the grace period, then their connections are cut
        const closing = app.close()
        const timer = setTimeout(() => { app.server.closeAllConnections() }, shutdownTimeout)
        try { await closing } finally { clearTimeout(timer) }
      })
      await app.listen({ host: config.apiHost, port: init.apiPort ?? config.apiPort })
      const address = app.server.address() as { address: string, port: number }
      const host = address.address.includes(':') ? `[${address.address}]` : address.address
      url = `http://${host}:${address.port}`
      logger.info({ url, auth: apiAuth }, 'HTTP API listening')
      // tell local CLI commands (`add`, `get`) where the API is, even on a random port; no token in it
      await writeApiFile(layout.root, url)
      cleanups.push(async () => { await removeApiFile(layout.root) })
    }

    let stopping: Promise<void> | undefined
    return {
      url,
      token: apiAuth ? config.apiToken : undefined,
      storageNode,
      config,
      configPath: layout.configPath,
      client,
      logger,
      refused,
      async stop () {
        stopping ??= (async () => {
          logger.info('stopping node runner')
          await runCleanups()
          logger.info('node runner stopped')
        })()
        await stopping
      }
    }
  } catch (err) {
    await runCleanups()
    throw err
  }
}
