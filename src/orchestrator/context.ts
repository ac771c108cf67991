/**
 * What every part of the orchestrator shares: the store, the live state, the
 * clock and scheduler, the logger, the settings, and the one way to write:
 * {@link OrchestratorContext.tx}. A transaction commits before its messages
 * go out and its events are emitted; a rolled-back one sends and emits nothing.
 */
import { NotFoundError, NotStartedError } from '../errors.js'
import { encodeMessage } from '../protocol/index.js'
import type { OrchestratorMessage } from '../protocol/index.js'
import type { Clock, Scheduler, TimerHandle } from './clock.js'
import type { LiveState, NodeSession } from './state.js'
import type { NodeRow, OrchestratorStore, WorkspaceRow } from './store/types.js'
import type { OrchestratorEvent, OrchestratorLogger } from './types.js'

export interface OrchestratorSettings {
  repinGraceMs: number
  maxBootstrapPeers: number
  pinTimeoutMs: number
  authTimeoutMs: number
  /** Always-on peers of a workspace (the composition's gateway, `extraBootstrapPeers`). */
  extraBootstrapPeers?: (workspaceId: string) => string[]
}

export class OrchestratorContext {
  readonly store: OrchestratorStore
  readonly state: LiveState
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly log: OrchestratorLogger
  readonly settings: OrchestratorSettings
  readonly #listeners = new Set<(event: OrchestratorEvent) => void>()
  readonly #timers = new Set<TimerHandle>()
  /** Sends and events of the open transaction, run after it commits. */
  #queue: Array<() => void> = []
  #depth = 0
  #closed = false

  constructor (init: { store: OrchestratorStore, state: LiveState, clock: Clock, scheduler: Scheduler, log: OrchestratorLogger, settings: OrchestratorSettings }) {
    this.store = init.store
    this.state = init.state
    this.clock = init.clock
    this.scheduler = init.scheduler
    this.log = init.log
    this.settings = init.settings
  }

  get closed (): boolean { return this.#closed }

  /** Throws when the orchestrator was stopped. */
  check (): void {
    if (this.#closed) throw new NotStartedError('Orchestrator not started')
  }

  /**
   * Runs `fn` in a transaction (a savepoint inside another): its writes are
   * committed when `tx` returns; then its messages go out and its events fire.
   */
  tx<T>(fn: () => T): T {
    this.check()
    const mark = this.#queue.length
    this.#depth++
    let result: T
    try {
      result = this.store.transaction(fn)
    } catch (err) {
      this.#queue.length = mark
      throw err
    } finally {
      this.#depth--
    }
    if (this.#depth === 0) this.#flush()
    return result
  }

  #flush (): void {
    while (this.#queue.length > 0) {
      const queue = this.#queue
      this.#queue = []
      for (const run of queue) run()
    }
  }

  /** Runs `run` once the open transaction has committed (now when none is open). */
  afterCommit (run: () => void): void {
    this.#defer(run)
  }

  #defer (run: () => void): void {
    if (this.#depth > 0) this.#queue.push(run)
    else run()
  }

  /** Member ids of a workspace (loaded from the store on first use). */
  memberSet (workspaceId: string): Set<string> {
    let set = this.state.members.get(workspaceId)
    if (set == null) this.state.members.set(workspaceId, set = new Set(this.store.listMemberIds(workspaceId)))
    return set
  }

  /** @throws {NotFoundError} */
  workspaceRow (workspaceId: string): WorkspaceRow {
    this.check()
    const row = typeof workspaceId === 'string' ? this.store.getWorkspace(workspaceId) : undefined
    if (row == null) throw new NotFoundError(`Workspace ${String(workspaceId).slice(0, 80)} not found`)
    return row
  }

  /** @throws {NotFoundError} */
  nodeRow (nodeId: string): NodeRow {
    this.check()
    const row = typeof nodeId === 'string' ? this.store.getNode(nodeId) : undefined
    if (row == null) throw new NotFoundError(`Node ${String(nodeId).slice(0, 80)} not found`)
    return row
  }

  onChange (listener: (event: OrchestratorEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  emit (event: OrchestratorEvent): void {
    this.#defer(() => {
      for (const l of this.#listeners) {
        try { l(event) } catch (err) { this.log.warn({ err: (err as Error).message }, 'change listener threw') }
      }
    })
  }

  /** Sends to a session (after the open transaction commits); a closed socket drops it. */
  send (session: NodeSession, message: OrchestratorMessage): void {
    this.#defer(() => {
      if (!session.connection.isOpen()) return
      session.connection.send(encodeMessage(message), (err) => {
        if (err != null) this.log.debug({ nodeId: session.nodeId, err: err.message }, 'send failed')
      })
    })
  }

  /** Sends to a node's session, if it has one. */
  sendTo (nodeId: string, message: OrchestratorMessage): void {
    const session = this.state.sessions.get(nodeId)
    if (session != null) this.send(session, message)
  }

  /** Runs `fn` after `ms` (through the scheduler), unless the orchestrator stops first. */
  later (ms: number, fn: () => void): TimerHandle {
    const t = this.scheduler.setTimeout(() => {
      this.#timers.delete(t)
      if (this.#closed) return
      try {
        fn()
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
    this.#queue = []
  }
}
