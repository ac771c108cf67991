/**
 * What every part of the orchestrator shares: the store, the live state, the
 * clock and scheduler, the logger, the settings, the link to the other
 * instances, and the one way to write: {@link OrchestratorContext.tx}.
 *
 * The store is asynchronous (SQLite through its adapter, or PostgreSQL), so a
 * transaction is a {@link TxScope}: its `db` is the handle bound to the
 * transaction, and its `send` / `emit` are queued until it commits. A
 * rolled-back transaction sends and emits nothing. Outside a transaction,
 * {@link OrchestratorContext.direct} is a scope whose sends go out at once.
 */
import { NotFoundError, NotStartedError } from '../errors.js'
import { encodeMessage } from '../protocol/index.js'
import type { OrchestratorMessage } from '../protocol/index.js'
import type { Clock, Scheduler, TimerHandle } from './clock.js'
import type { ClusterLink } from './cluster/link.js'
import type { AsyncOrchestratorStore, AsyncStoreOperations, AsyncStoreTransaction } from './store/async-store.js'
import type { LiveState, NodeSession } from './state.js'
import type { NodeRow, WorkspaceRow } from './store/types.js'
import type { OrchestratorEvent, OrchestratorLogger } from './types.js'

export interface OrchestratorSettings {
  repinGraceMs: number
  maxBootstrapPeers: number
  pinTimeoutMs: number
  authTimeoutMs: number
  /** Always-on peers of a workspace (the composition's gateway, `extraBootstrapPeers`). */
  extraBootstrapPeers?: (workspaceId: string) => string[]
}

/** Where reads and writes go and where sends and events wait: a transaction, or nothing (at once). */
export interface Scope {
  readonly db: AsyncStoreOperations
  send(session: NodeSession, message: OrchestratorMessage): void
  /** Sends to a node wherever its session lives (this instance or another one). */
  sendTo(nodeId: string, message: OrchestratorMessage): void
  emit(event: OrchestratorEvent): void
  afterCommit(run: () => void): void
}

/** One open transaction: `db` is bound to it, sends and events run after it commits. */
export class TxScope implements Scope {
  readonly db: AsyncStoreTransaction
  readonly #ctx: OrchestratorContext
  readonly queue: Array<() => void> = []

  constructor (ctx: OrchestratorContext, db: AsyncStoreTransaction) {
    this.#ctx = ctx
    this.db = db
  }

  afterCommit (run: () => void): void { this.queue.push(run) }
  send (session: NodeSession, message: OrchestratorMessage): void { this.queue.push(() => { this.#ctx.sendNow(session, message) }) }
  sendTo (nodeId: string, message: OrchestratorMessage): void { this.queue.push(() => { this.#ctx.sendToNow(nodeId, message) }) }
  emit (event: OrchestratorEvent): void { this.queue.push(() => { this.#ctx.emitNow(event) }) }

  /** A savepoint: its sends join this transaction's when it succeeds, and are dropped when it throws. */
  async tx<T>(fn: (t: TxScope) => Promise<T>): Promise<T> {
    let inner: TxScope | undefined
    const result = await this.db.transaction(async db => {
      inner = new TxScope(this.#ctx, db)
      return await fn(inner)
    })
    if (inner != null) this.queue.push(...inner.queue)
    return result
  }
}

export class OrchestratorContext {
  readonly store: AsyncOrchestratorStore
  readonly state: LiveState
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly log: OrchestratorLogger
  readonly settings: OrchestratorSettings
  readonly link: ClusterLink
  /** No transaction: reads on the store, sends and events at once. */
  readonly direct: Scope
  readonly #listeners = new Set<(event: OrchestratorEvent) => void>()
  readonly #timers = new Set<TimerHandle>()
  /** Work started by timers and the hub, so that `idle()` can wait for it. */
  readonly #inFlight = new Set<Promise<unknown>>()
  #closed = false

  constructor (init: { store: AsyncOrchestratorStore, state: LiveState, clock: Clock, scheduler: Scheduler, log: OrchestratorLogger, settings: OrchestratorSettings, link: ClusterLink }) {
    this.store = init.store
    this.state = init.state
    this.clock = init.clock
    this.scheduler = init.scheduler
    this.log = init.log
    this.settings = init.settings
    this.link = init.link
    this.direct = {
      db: init.store,
      send: (session, message) => { this.sendNow(session, message) },
      sendTo: (nodeId, message) => { this.sendToNow(nodeId, message) },
      emit: (event) => { this.emitNow(event) },
      afterCommit: (run) => { run() }
    }
  }

  get closed (): boolean { return this.#closed }

  /** Throws when the orchestrator was stopped. */
  check (): void {
    if (this.#closed) throw new NotStartedError('Orchestrator not started')
  }

  /**
   * Runs `fn` in a transaction: its writes are committed when `fn` resolves;
   * then its messages go out and its events fire.
   */
  async tx<T>(fn: (t: TxScope) => Promise<T>): Promise<T> {
    this.check()
    let scope: TxScope | undefined
    const result = await this.store.transaction(async db => {
      scope = new TxScope(this, db)
      return await fn(scope)
    })
    if (scope != null) for (const run of scope.queue) run()
    return result
  }

  /** Tracks a background task (a timer's work, a batch of frames) for {@link idle}; its failure is logged. */
  track (what: string, task: Promise<unknown>): Promise<void> {
    const p: Promise<void> = task.then(() => undefined, (err: Error) => {
      if (!this.#closed) this.log.error({ err: err.message }, `${what} failed`)
    }).finally(() => { this.#inFlight.delete(p) })
    this.#inFlight.add(p)
    return p
  }

  /** Whether a background task is running. */
  get busy (): boolean { return this.#inFlight.size > 0 }

  /** Resolves once every background task (and those they started) has settled. */
  async idle (): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight])
  }

  /** Member ids of a workspace (loaded at start, kept by the membership commands). */
  memberSet (workspaceId: string): Set<string> {
    let set = this.state.members.get(workspaceId)
    if (set == null) this.state.members.set(workspaceId, set = new Set())
    return set
  }

  /** @throws {NotFoundError} */
  async workspaceRow (workspaceId: string, db: AsyncStoreOperations = this.store): Promise<WorkspaceRow> {
    this.check()
    const row = typeof workspaceId === 'string' ? await db.getWorkspace(workspaceId) : undefined
    if (row == null) throw new NotFoundError(`Workspace ${String(workspaceId).slice(0, 80)} not found`)
    return row
  }

  /** @throws {NotFoundError} */
  async nodeRow (nodeId: string, db: AsyncStoreOperations = this.store): Promise<NodeRow> {
    this.check()
    const row = typeof nodeId === 'string' ? await db.getNode(nodeId) : undefined
    if (row == null) throw new NotFoundError(`Node ${String(nodeId).slice(0, 80)} not found`)
    return row
  }

  onChange (listener: (event: OrchestratorEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  emitNow (event: OrchestratorEvent): void {
    for (const l of this.#listeners) {
      try { l(event) } catch (err) { this.log.warn({ err: (err as Error).message }, 'change listener threw') }
    }
  }

  /** Sends to a session now; a closed socket drops it. */
  sendNow (session: NodeSession, message: OrchestratorMessage): void {
    if (session.connection.isOpen()) this.sendEncodedNow(session, encodeMessage(message))
  }

  /** Sends a message already serialised (`encodeMessage`, or as another instance serialised it); a closed socket drops it. */
  sendEncodedNow (session: NodeSession, data: string): void {
    if (!session.connection.isOpen()) return
    session.connection.send(data, (err) => {
      if (err != null) this.log.debug({ nodeId: session.nodeId, err: err.message }, 'send failed')
    })
  }

  /** Sends to a node's session on this instance, or through the link to the instance that holds it. */
  sendToNow (nodeId: string, message: OrchestratorMessage): void {
    const session = this.state.sessions.get(nodeId)
    if (session != null) {
      this.sendNow(session, message)
      return
    }
    this.link.sendRemote(nodeId, message)
  }

  /** Runs `fn` after `ms` (through the scheduler), unless the orchestrator stops first. */
  later (ms: number, fn: () => void | Promise<void>): TimerHandle {
    const t = this.scheduler.setTimeout(() => {
      this.#timers.delete(t)
      if (this.#closed) return
      try {
        const r = fn()
        if (r != null) void this.track('timer', r)
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'timer failed')
      }
    }, ms)
    this.#timers.add(t)
    return t
  }

  cancel (t: TimerHandle | undefined): void {
    if (t == null) return
    this.#timers.delete(t)
    this.scheduler.clearTimeout(t)
  }

  close (): void {
    this.#closed = true
    for (const t of this.#timers) this.scheduler.clearTimeout(t)
    this.#timers.clear()
  }
}
