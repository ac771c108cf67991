/**
 * The orchestrator client: keeps a WebSocket to the orchestrator open
 * (reconnecting with backoff, moving down its list of URLs when there are
 * several instances) and drives a StorageNode from its messages.
 * Swarm keys stay in memory; only fingerprints are logged.
 */
import WebSocket from 'ws'
import type { RawData } from 'ws'
import { AbortedError, NotStartedError } from '../errors.js'
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, encodeMessage, parseOrchestratorMessage } from '../protocol/index.js'
import type { NodeMessage, OrchestratorMessage } from '../protocol/index.js'
import type { AbortOptions } from '@libp2p/interface'
import type { ClientEvent, ClientLogger, OrchestratorClient, OrchestratorClientInit } from './types.js'
import { displayUrl, orchestratorUrls } from './url.js'
import { storageReport } from './report.js'
import { createPinHandler } from './pins.js'
import { lookupWorkspace, onBootstrap, onJoined, onLeft } from './workspaces.js'
import type { WorkspaceContext } from './workspaces.js'
import type { PinHandler } from './pins.js'
import type { StorageNode, WorkspaceNode } from '../node/types.js'
import { backoffDelay } from './backoff.js'
import { createKeyLock } from '../util/key-lock.js'
import { throwIfAborted } from '../util/abort.js'

export type { ClientEvent, ClientLogger, OrchestratorClient, OrchestratorClientInit } from './types.js'

const FATAL_CODES = new Set(['ERR_UNAUTHORIZED', 'ERR_PROTOCOL_VERSION'])
const FATAL_CLOSE = new Set([4001, 4002])
const silentLogger: ClientLogger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * Creates a client that connects a storage node to an orchestrator.
 *
 * @throws {InsecureConnectionError} for plain `ws://` to a host that is not loopback, unless `allowInsecure: true`
 * @throws {InvalidConfigError} for a URL that is not ws(s):// or http(s)://
 *
 * @example
 * ```ts
 * const node = await createStorageNode({ storagePath: '/data', quotaBytes: 10 * 2 ** 30 })
 * const client = createOrchestratorClient({ url: 'wss://orch.example:7420/ws', token, storageNode: node })
 * await client.start()
 * await client.waitConnected()
 * ```
 */
export function createOrchestratorClient (init: OrchestratorClientInit): OrchestratorClient {
  return new DefaultClient(init, orchestratorUrls(init.url, init.allowInsecure === true))
}

class DefaultClient implements OrchestratorClient {
  readonly #init: OrchestratorClientInit
  /** The orchestrator URLs, tried in turn; `#urlIndex` is the current one. */
  readonly #urls: string[]
  #urlIndex = 0
  readonly #node: StorageNode
  readonly #log: ClientLogger
  readonly #listeners = new Set<(event: ClientEvent) => void>()
  #ws: WebSocket | null = null
  #nodeId: string | undefined
  #welcomed = false
  #running = false
  #attempt = 0
  /** Connection attempts that failed since the last welcome, and when that was last warned about. */
  #failures = 0
  #lastUnreachableWarn = -Infinity
  #lastError: string | undefined
  #reconnectTimer?: NodeJS.Timeout
  #reportTimer?: NodeJS.Timeout
  #reportDebounce?: NodeJS.Timeout
  #abort = new AbortController()
  /** Per workspace: its join/rotate/leave work, one at a time. */
  readonly #lifecycle = createKeyLock()
  /** Key version last applied per workspace (memory only). */
  readonly #keyVersions = new Map<string, number>()
  readonly #pending = new Set<Promise<unknown>>()
  readonly #pins: PinHandler

  constructor (init: OrchestratorClientInit, urls: string[]) {
    this.#init = init
    this.#urls = urls
    this.#node = init.storageNode
    this.#log = init.logger ?? silentLogger
    this.#pins = createPinHandler({
      workspace: (id) => this.#workspace(id),
      signal: () => this.#abort.signal,
      send: (m) => { this.#send(m) },
      emit: (e) => { this.#emit(e) },
      changed: () => { this.#scheduleReport() },
      log: this.#log,
      pinTimeoutMs: init.pinTimeoutMs ?? 600_000
    }, init.pinConcurrency ?? 4)
  }

  get connected (): boolean { return this.#welcomed }
  get nodeId (): string | undefined { return this.#nodeId }
  get currentUrl (): string { return displayUrl(this.#url) }
  get #url (): string { return this.#urls[this.#urlIndex] }

  onEvent (listener: (event: ClientEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  async start (): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#abort = new AbortController()
    this.#attempt = 0
    const interval = this.#init.storageReportIntervalMs ?? 60_000
    if (interval > 0) {
      this.#reportTimer = setInterval(() => {
        void this.reportStorage().catch(err => { this.#log.debug({ err: (err as Error).message }, 'periodic storage report failed') })
      }, interval)
      this.#reportTimer.unref()
    }
    this.#connect()
  }

  async stop (): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#abort.abort(new AbortedError('Orchestrator client stopped'))
    clearTimeout(this.#reconnectTimer)
    clearInterval(this.#reportTimer)
    clearTimeout(this.#reportDebounce)
    const ws = this.#ws
    this.#ws = null
    this.#welcomed = false
    if (ws != null) {
      await new Promise<void>(resolve => {
        if (ws.readyState === WebSocket.CLOSED) { resolve(); return }
        const t = setTimeout(() => { ws.terminate(); resolve() }, 1000)
        ws.once('close', () => { clearTimeout(t); resolve() })
        try {
          ws.close(1000, 'client stopping')
        } catch (err) {
          this.#log.debug({ err: (err as Error).message }, 'closing the connection failed; terminating it')
          ws.terminate()
        }
      })
    }
    await Promise.allSettled([...this.#pending])
    this.#emit({ type: 'disconnected', code: 1000 })
  }

  async waitConnected (options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    if (this.#welcomed) return
    if (!this.#running) throw new NotStartedError('Orchestrator client not started')
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        off()
        options.signal?.removeEventListener('abort', onAbort)
        this.#abort.signal.removeEventListener('abort', onAbort)
        if (err != null) reject(err)
        else resolve()
      }
      const onAbort = (): void => { done(new AbortedError('Aborted while waiting for the orchestrator')) }
      const off = this.onEvent(e => {
        if (e.type === 'connected') done()
        else if (e.type === 'fatal') done(new AbortedError(`Orchestrator refused this node: ${e.error.code}`))
      })
      options.signal?.addEventListener('abort', onAbort)
      this.#abort.signal.addEventListener('abort', onAbort)
    })
  }

  async reportStorage (options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    if (!this.#welcomed) return
    this.#send(await storageReport(this.#node, options))
  }

  // ---- connection ----------------------------------------------------------

  #connect (): void {
    if (!this.#running) return
    const ws = new WebSocket(this.#url, {
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
      ...(this.#init.tls ?? {})
    })
    this.#ws = ws
    this.#welcomed = false
    ws.on('open', () => {
      this.#send({ type: 'hello', protocol_version: PROTOCOL_VERSION, token: this.#init.token, ...(this.#init.nodeName != null ? { node_name: this.#init.nodeName } : {}) }, ws)
    })
    ws.on('message', (raw: RawData) => {
      if (this.#ws !== ws) return
      let msg: OrchestratorMessage
      try {
        msg = parseOrchestratorMessage(raw as Buffer)
      } catch (err) {
        const e = err as Error & { code?: string }
        this.#log.warn({ err: e.message }, 'invalid message from orchestrator')
        this.#send({ type: 'error', code: e.code ?? 'ERR_INVALID_MESSAGE', message: e.message }, ws)
        return
      }
      this.#onMessage(msg, ws)
    })
    ws.on('error', (err) => {
      this.#lastError = err.message
      this.#log.debug({ err: err.message }, 'orchestrator connection error')
    })
    ws.on('close', (code) => {
      if (this.#ws !== ws) return
      this.#ws = null
      const wasWelcomed = this.#welcomed
      this.#welcomed = false
      if (wasWelcomed) {
        this.#log.info({ code }, 'disconnected from orchestrator')
        this.#emit({ type: 'disconnected', code })
      }
      if (FATAL_CLOSE.has(code)) {
        this.#fatal({ code: code === 4001 ? 'ERR_UNAUTHORIZED' : 'ERR_PROTOCOL_VERSION', message: `Closed by the orchestrator (${code})` })
        return
      }
      if (!wasWelcomed) this.#unreachable(code)
      // the next instance: this one failed or went away (with one URL, the same again)
      this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length
      this.#scheduleReconnect()
    })
  }

  /** A failed attempt: warned at once, then at most once per `unreachableWarnIntervalMs` (debug in between). */
  #unreachable (code: number): void {
    if (!this.#running) return
    this.#failures++
    const now = Date.now()
    const fields = { url: displayUrl(this.#url), attempts: this.#failures, code, err: this.#lastError }
    this.#lastError = undefined
    if (now - this.#lastUnreachableWarn >= (this.#init.unreachableWarnIntervalMs ?? 60_000)) {
      this.#lastUnreachableWarn = now
      this.#log.warn(fields, 'cannot reach the orchestrator; retrying')
    } else {
      this.#log.debug(fields, 'cannot reach the orchestrator; retrying')
    }
  }

  #scheduleReconnect (): void {
    if (!this.#running) return
    const delay = backoffDelay(this.#attempt++, this.#init.reconnectInitialMs ?? 500, this.#init.reconnectMaxMs ?? 30_000)
    this.#log.debug({ delay }, 'reconnecting')
    clearTimeout(this.#reconnectTimer)
    this.#reconnectTimer = setTimeout(() => { this.#connect() }, delay)
  }

  #fatal (error: { code: string, message: string }): void {
    if (!this.#running) return
    this.#log.error({ ...error, url: displayUrl(this.#url) }, 'the orchestrator refused this node; not reconnecting')
    this.#running = false
    clearInterval(this.#reportTimer)
    this.#emit({ type: 'fatal', error })
  }

  #send (message: NodeMessage, ws: WebSocket | null = this.#ws): void {
    if (ws == null || ws.readyState !== WebSocket.OPEN) return
    ws.send(encodeMessage(message), (err) => {
      if (err != null) this.#log.debug({ err: err.message }, 'send failed')
    })
  }

  #emit (event: ClientEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event)
      } catch (err) {
        this.#log.warn({ event: event.type, err: (err as Error).message }, 'a client event listener threw')
      }
    }
  }

  #track<T>(p: Promise<T>): void {
    this.#pending.add(p)
    void p.catch(err => { this.#log.debug({ err: (err as Error).message }, 'background task failed') })
      .finally(() => this.#pending.delete(p))
  }

  #onMessage (msg: OrchestratorMessage, ws: WebSocket): void {
    switch (msg.type) {
      case 'welcome':
        this.#welcomed = true
        this.#attempt = 0
        if (this.#failures > 0) this.#log.info({ url: displayUrl(this.#url), attempts: this.#failures }, 'reached the orchestrator again')
        this.#failures = 0
        this.#lastUnreachableWarn = -Infinity
        this.#nodeId = msg.node_id
        this.#log.info({ nodeId: msg.node_id }, 'connected to orchestrator')
        this.#emit({ type: 'connected', nodeId: msg.node_id })
        this.#track(this.reportStorage().catch(err => this.#log.warn({ err: (err as Error).message }, 'storage report failed')))
        return
      case 'error':
        this.#log.warn({ code: msg.code, message: msg.message }, 'orchestrator error')
        if (FATAL_CODES.has(msg.code) && !this.#welcomed) this.#fatal({ code: msg.code, message: msg.message })
        else this.#emit({ type: 'error', error: { code: msg.code, message: msg.message } })
        return
      case 'workspace_joined':
        this.#chain(msg.workspace_id, async () => { await onJoined(this.#workspaceContext(ws), msg) })
        return
      case 'workspace_left':
        this.#chain(msg.workspace_id, async () => { await onLeft(this.#workspaceContext(ws), msg) })
        return
      case 'bootstrap_update':
        this.#track(this.#afterLifecycle(msg.workspace_id).then(async () => { await onBootstrap(this.#workspaceContext(ws), msg) }))
        return
      case 'pin_content':
        this.#track(this.#afterLifecycle(msg.workspace_id).then(async () => { await this.#pins.pin(msg) }))
        return
      case 'unpin_content':
        this.#track(this.#afterLifecycle(msg.workspace_id).then(async () => { await this.#pins.unpin(msg) }))
        return
    }
  }

  /** Runs `fn` after the workspace's earlier join/rotate/leave work (`fn` logs its own failures). */
  #chain (workspaceId: string, fn: () => Promise<void>): void {
    this.#track(this.#lifecycle.run(workspaceId, fn).catch(err => {
      this.#log.warn({ workspaceId, err: (err as Error).message }, 'workspace lifecycle step failed')
    }))
  }

  /** Resolves once the workspace's queued join/rotate/leave work is done. */
  async #afterLifecycle (workspaceId: string): Promise<void> {
    await this.#lifecycle.run(workspaceId, async () => {})
  }

  #workspace (workspaceId: string): WorkspaceNode | undefined {
    return lookupWorkspace(this.#node, workspaceId, this.#log)
  }

  /** What the workspace handlers (`workspaces.ts`) need of the client. */
  #workspaceContext (ws: WebSocket): WorkspaceContext {
    return {
      node: this.#node,
      log: this.#log,
      signal: this.#abort.signal,
      keyVersions: this.#keyVersions,
      filterAddresses: this.#init.filterAddresses,
      current: () => this.#ws === ws,
      send: (m) => { this.#send(m, ws) },
      emit: (e) => { this.#emit(e) },
      changed: () => { this.#scheduleReport() }
    }
  }

  /** A storage report shortly after a change (several changes give one report). */
  #scheduleReport (): void {
    if (this.#reportDebounce != null || !this.#running) return
    this.#reportDebounce = setTimeout(() => {
      this.#reportDebounce = undefined
      this.#track(this.reportStorage().catch(err => this.#log.debug({ err: (err as Error).message }, 'storage report failed')))
    }, 250)
    this.#reportDebounce.unref()
  }
}
