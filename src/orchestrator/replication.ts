/**
 * Applies the planner's answers: writes allocations, emits their events and
 * sends `pin_content` / `unpin_content`. Placement of a whole workspace is
 * batched: {@link Replication.schedule} marks it dirty, and one timer
 * ({@link PLACEMENT_BATCH_MS}) places every dirty workspace in one transaction
 * each, its pins locked (`lockPins`) so that two placers never place one pin
 * twice. Only the leading instance places; another one asks the leader
 * (`link.placementNeeded`).
 */
import type { OrchestratorMessage } from '../protocol/index.js'
import type { OrchestratorContext, Scope, TxScope } from './context.js'
import { planPin } from './planner.js'
import { hasBulk } from './store/types.js'
import type { AllocationRow, AllocationState, PinRow } from './store/types.js'
import type { TimerHandle } from './clock.js'

/** Dirty workspaces are placed this long after the first was marked. */
export const PLACEMENT_BATCH_MS = 20
/** Pins asked for by other instances placed in one transaction at most. */
const PLACE_KEYS_MAX = 500

export class Replication {
  readonly #ctx: OrchestratorContext
  readonly #dirty = new Set<string>()
  /** Single pins to place (asked by another instance), per workspace not dirty as a whole. */
  readonly #dirtyPins = new Map<string, Set<string>>()
  #timer: TimerHandle | undefined
  /** The running flush: placement runs one at a time on an instance. */
  #running: Promise<void> = Promise.resolve()

  constructor (ctx: OrchestratorContext) {
    this.#ctx = ctx
  }

  /** Places the workspace's pins within {@link PLACEMENT_BATCH_MS}, with every other workspace marked meanwhile. */
  schedule (workspaceId: string): void {
    if (!this.#ctx.link.isLeader()) {
      this.#ctx.link.placementNeeded(workspaceId)
      return
    }
    this.#dirty.add(workspaceId)
    this.#arm()
  }

  /** Places one pin within {@link PLACEMENT_BATCH_MS} (on the leader; another instance asks it). */
  schedulePin (workspaceId: string, cid: string): void {
    if (!this.#ctx.link.isLeader()) {
      this.#ctx.link.placementNeeded(workspaceId, cid)
      return
    }
    let set = this.#dirtyPins.get(workspaceId)
    if (set == null) this.#dirtyPins.set(workspaceId, set = new Set())
    set.add(cid)
    this.#arm()
  }

  #arm (): void {
    if (this.#timer != null || this.#ctx.closed) return
    this.#timer = this.#ctx.later(PLACEMENT_BATCH_MS, async () => {
      this.#timer = undefined
      await this.flush()
    })
  }

  scheduleAll (): void {
    for (const ws of this.#ctx.state.members.keys()) this.schedule(ws)
  }

  /** Places every dirty workspace now (after a run already going). */
  async flush (): Promise<void> {
    const run = this.#running.then(async () => {
      const list = [...this.#dirty]
      this.#dirty.clear()
      const pins = [...this.#dirtyPins].filter(([ws]) => !list.includes(ws))
      this.#dirtyPins.clear()
      for (const ws of list) {
        try {
          await this.placeWorkspace(ws)
        } catch (err) {
          this.#ctx.log.error({ workspaceId: ws, err: (err as Error).message }, 'placement failed')
        }
      }
      // PostgreSQL: the pins other instances asked for, of every workspace, in one transaction (a pin() on another
      // instance is one of these, so one transaction per workspace was five statements per pin across workspaces)
      // at most PLACE_KEYS_MAX pins a transaction: a backlog (the leader busier than the pin() calls of the others)
      // is several bounded transactions, not one holding every row, plan, event and message of it until it commits
      if (pins.length > 1 && hasBulk(this.#ctx.store)) {
        const keys = pins.flatMap(([ws, cids]) => [...cids].map(cid => ({ workspace_id: ws, cid })))
        try {
          for (let i = 0; i < keys.length; i += PLACE_KEYS_MAX) await this.#placeKeys(keys.slice(i, i + PLACE_KEYS_MAX))
          return
        } catch (err) {
          this.#ctx.log.debug({ workspaces: pins.length, err: (err as Error).message }, 'grouped placement failed: one workspace at a time')
        }
      }
      for (const [ws, cids] of pins) {
        try {
          await this.#placePins(ws, [...cids].sort())
        } catch (err) {
          this.#ctx.log.error({ workspaceId: ws, err: (err as Error).message }, 'placement failed')
        }
      }
    })
    this.#running = run
    await run
  }

  /** Re-places the pins of `workspaceIds` once the grace period of a node that went offline is over. */
  afterGrace (nodeId: string, workspaceIds: string[]): void {
    this.#ctx.later(this.#ctx.settings.repinGraceMs + 5, () => {
      if (this.#ctx.state.isOnline(nodeId)) return
      for (const ws of workspaceIds) this.schedule(ws)
    })
  }

  async placeWorkspace (workspaceId: string): Promise<void> {
    const ctx = this.#ctx
    if (ctx.closed || !ctx.link.isLeader()) return
    await ctx.tx(async t => {
      if (await t.db.getWorkspace(workspaceId) == null) return
      // lock the pins first (in cid order): a placer elsewhere waits, then sees these allocations
      const pins = await t.db.lockPins(workspaceId)
      const byPin = groupByPin(await t.db.listAllocationsOfWorkspace(workspaceId))
      const batch = new AllocationBatch()
      for (const pin of pins) await this.placePin(t, workspaceId, pin.cid, pin, byPin.get(pin.cid) ?? [], batch)
      await this.writeAllocations(t, batch)
    })
  }

  /** Places some pins of a workspace in one transaction, each locked (in cid order). */
  async #placePins (workspaceId: string, cids: string[]): Promise<void> {
    if (this.#ctx.closed || !this.#ctx.link.isLeader()) return
    await this.#ctx.tx(async t => {
      // one statement locks them all (in cid order), one reads their allocations, one writes the new ones
      const pins = await t.db.lockPinsOf(workspaceId, cids)
      const byPin = groupByPin(await t.db.listAllocationsOfPins(workspaceId, pins.map(p => p.cid)))
      const batch = new AllocationBatch()
      for (const pin of pins) await this.placePin(t, workspaceId, pin.cid, pin, byPin.get(pin.cid) ?? [], batch)
      await this.writeAllocations(t, batch)
    })
  }

  /** Places pins of several workspaces in one transaction: one statement locks them all, one reads their allocations, one writes. */
  async #placeKeys (keys: Array<{ workspace_id: string, cid: string }>): Promise<void> {
    if (this.#ctx.closed || !this.#ctx.link.isLeader()) return
    await this.#ctx.tx(async t => {
      const db = t.db
      if (!hasBulk(db)) throw new Error('the store has no multi-row statements')
      const pins = await db.lockPinsOfKeys(keys)
      const byPin = new Map<string, AllocationRow[]>()
      for (const a of await db.listAllocationsOfKeys(pins)) {
        const key = `${a.workspace_id}\0${a.cid}`
        const list = byPin.get(key)
        if (list == null) byPin.set(key, [a])
        else list.push(a)
      }
      const batch = new AllocationBatch()
      for (const pin of pins) await this.placePin(t, pin.workspace_id, pin.cid, pin, byPin.get(`${pin.workspace_id}\0${pin.cid}`) ?? [], batch)
      await this.writeAllocations(t, batch)
    })
  }

  /**
   * Brings one pin between its min and max copies (see `planPin`), inside a
   * transaction. On an instance that does not lead, it asks the leader instead.
   * The allocations it chooses go to `batch` when given (the caller writes
   * them with {@link writeAllocations} before the commit), else they are
   * written here; their events and messages go out only for the rows written.
   */
  async placePin (t: TxScope, workspaceId: string, cid: string, pinRow?: PinRow, allocs?: AllocationRow[], batch?: AllocationBatch): Promise<void> {
    const { state } = this.#ctx
    if (!this.#ctx.link.isLeader()) {
      t.afterCommit(() => { this.#ctx.link.placementNeeded(workspaceId, cid) })
      return
    }
    const pin = pinRow ?? await t.db.lockPin(workspaceId, cid)
    if (pin == null) return
    const allocations = allocs ?? await t.db.listAllocationsOfPin(workspaceId, cid)
    const now = this.#ctx.clock.now()
    const members = this.#ctx.memberSet(workspaceId)
    const plan = planPin({ replicationMin: pin.replication_min, replicationMax: pin.replication_max, size: pin.size, allocations }, state.snapshot(members, workspaceId), now)
    let message: OrchestratorMessage | undefined
    const rows = batch ?? new AllocationBatch()
    const write = (nodeId: string, allocState: AllocationState, send?: () => void): void => {
      rows.add({ workspace_id: workspaceId, cid, node_id: nodeId, state: allocState, error: null, updated_at: now }, () => {
        t.emit({ type: 'allocation', workspaceId, cid, nodeId, state: allocState })
        send?.()
      })
    }
    for (const { nodeId, state: allocState } of plan.allocate) {
      if (allocState !== 'pinning') {
        write(nodeId, allocState)
        continue
      }
      state.reserve(nodeId, pin.size)
      const pinContent = message ??= this.pinMessage(pin, allocations)
      write(nodeId, allocState, () => { t.sendTo(nodeId, pinContent) })
    }
    if (plan.underReplicated) {
      const copies = plan.allocate.filter(a => a.state === 'pinning').length
      this.#ctx.log.debug({ workspaceId, cid, chosen: copies, min: pin.replication_min }, 'pin under-replicated')
    }
    for (const nodeId of plan.drop) {
      write(nodeId, 'unpinning', () => {
        const session = state.sessions.get(nodeId)
        if (session?.ready.has(workspaceId) === true) t.send(session, { type: 'unpin_content', workspace_id: workspaceId, cid })
      })
    }
    if (batch == null) await this.writeAllocations(t, rows)
  }

  /**
   * Writes a batch's rows in one statement, for the nodes that are still
   * members (`setMemberAllocations`: the store checks and locks each
   * membership), then queues the events and messages of the rows written.
   * A row left out means the node was removed on another instance and this
   * one has not heard yet: it is taken out of the member set now, and its
   * pin placed again among the members left. Returns the rows written.
   */
  async writeAllocations (t: TxScope, batch: AllocationBatch): Promise<AllocationRow[]> {
    if (batch.rows.length === 0) {
      batch.settle(new Set())
      return []
    }
    const dropped = await t.db.setMemberAllocations(batch.rows)
    const gone = new Set(dropped.map(allocationKey))
    const written = batch.settle(gone)
    this.#recheckQueued(t, written)
    for (const r of dropped) {
      // the store's word is newer than this instance's member set; a re-add later is announced (and read) after it
      if (this.#ctx.state.members.get(r.workspace_id)?.delete(r.node_id) === true) {
        this.#ctx.state.dropReadyIn(r.workspace_id, r.node_id)
        this.#ctx.log.info({ workspaceId: r.workspace_id, nodeId: r.node_id }, 'placement found a node no longer a member: placing without it')
      }
      this.schedulePin(r.workspace_id, r.cid)
    }
    return written
  }

  /**
   * A `queued` row goes to its node's next `pin_sync`. On PostgreSQL the node can become ready while this
   * transaction runs: its `pin_sync` then reads its allocations before this row is committed, and the placement
   * that `pin_sync` schedules can run before this commit too (a pin this transaction inserted is not even seen).
   * So after the commit, a queued row of a node ready by then is placed again (the planner sends it).
   */
  #recheckQueued (t: TxScope, written: AllocationRow[]): void {
    const queued = written.filter(r => r.state === 'queued')
    if (queued.length === 0) return
    t.afterCommit(() => {
      for (const r of queued) {
        if (this.#ctx.state.ready.get(r.workspace_id)?.has(r.node_id) === true) this.schedulePin(r.workspace_id, r.cid)
      }
    })
  }

  /** `pin_content` for a pin, with the addresses of up to 3 ready members that hold it as providers. */
  pinMessage (pin: PinRow, allocations: AllocationRow[]): OrchestratorMessage {
    const providers: string[] = []
    const peers = this.#ctx.state.peerAddrs.get(pin.workspace_id)
    if (peers != null && peers.size > 0) {
      for (const a of allocations) {
        const addrs = a.state === 'pinned' ? peers.get(a.node_id) : undefined
        if (addrs != null) providers.push(...addrs.slice(0, 4))
        if (providers.length >= 12) break
      }
    }
    return {
      type: 'pin_content',
      workspace_id: pin.workspace_id,
      cid: pin.cid,
      ...(pin.name != null ? { name: pin.name } : {}),
      ...(pin.size != null ? { size: pin.size } : {}),
      timeout_ms: this.#ctx.settings.pinTimeoutMs,
      ...(providers.length > 0 ? { providers } : {})
    }
  }

  async setAllocation (s: Scope, workspaceId: string, cid: string, nodeId: string, state: AllocationState, error: { code: string, message: string } | null, at: number): Promise<void> {
    await s.db.setAllocation(workspaceId, cid, nodeId, state, error == null ? null : JSON.stringify(error), at)
    s.emit({ type: 'allocation', workspaceId, cid, nodeId, state, ...(error != null ? { error } : {}) })
  }

  async removeAllocation (s: Scope, workspaceId: string, cid: string, nodeId: string): Promise<void> {
    await s.db.deleteAllocation(workspaceId, cid, nodeId)
    s.emit({ type: 'allocation', workspaceId, cid, nodeId, state: 'removed' })
  }

  close (): void {
    this.#dirty.clear()
    this.#dirtyPins.clear()
    this.#ctx.cancel(this.#timer)
    this.#timer = undefined
  }
}

function groupByPin (rows: AllocationRow[]): Map<string, AllocationRow[]> {
  const byPin = new Map<string, AllocationRow[]>()
  for (const a of rows) {
    const list = byPin.get(a.cid)
    if (list == null) byPin.set(a.cid, [a])
    else list.push(a)
  }
  return byPin
}

function allocationKey (r: AllocationRow): string {
  return `${r.workspace_id}\0${r.cid}\0${r.node_id}`
}

/**
 * The allocations of a placement run, written together before the commit
 * ({@link Replication.writeAllocations}), each with what goes with it (its
 * event, its `pin_content` or `unpin_content`): that runs only once the row
 * is written, so a node that stopped being a member meanwhile gets neither.
 */
export class AllocationBatch {
  readonly rows: AllocationRow[] = []
  readonly #effects: Array<{ row: AllocationRow | undefined, run: () => void }> = []

  /** A row to write, and what to queue once it is written. */
  add (row: AllocationRow, run: () => void): void {
    this.rows.push(row)
    this.#effects.push({ row, run })
  }

  /** Something to queue after the effects added before it, whatever is written (an event that keeps its place). */
  after (run: () => void): void {
    this.#effects.push({ row: undefined, run })
  }

  /** Runs the effects in order, but those of rows in `gone`; returns the rows written. */
  settle (gone: ReadonlySet<string>): AllocationRow[] {
    for (const e of this.#effects) if (e.row == null || !gone.has(allocationKey(e.row))) e.run()
    this.#effects.length = 0
    return gone.size === 0 ? this.rows : this.rows.filter(r => !gone.has(allocationKey(r)))
  }
}
