/**
 * Applies the planner's answers: writes allocations, emits their events and
 * sends `pin_content` / `unpin_content`. Placement of a whole workspace is
 * batched: {@link Replication.schedule} marks it dirty, and one timer
 * ({@link PLACEMENT_BATCH_MS}) places every dirty workspace in one transaction each.
 */
import type { OrchestratorMessage } from '../protocol/index.js'
import type { OrchestratorContext } from './context.js'
import { planPin } from './planner.js'
import type { AllocationRow, AllocationState, PinRow } from './store/types.js'
import type { TimerHandle } from './clock.js'

/** Dirty workspaces are placed this long after the first was marked. */
export const PLACEMENT_BATCH_MS = 20

export class Replication {
  readonly #ctx: OrchestratorContext
  readonly #dirty = new Set<string>()
  #timer: TimerHandle | undefined

  constructor (ctx: OrchestratorContext) {
    this.#ctx = ctx
  }

  /** Places the workspace's pins within {@link PLACEMENT_BATCH_MS}, with every other workspace marked meanwhile. */
  schedule (workspaceId: string): void {
    this.#dirty.add(workspaceId)
    if (this.#timer != null || this.#ctx.closed) return
    this.#timer = this.#ctx.later(PLACEMENT_BATCH_MS, () => {
      this.#timer = undefined
      this.flush()
    })
  }

  scheduleAll (): void {
    for (const ws of this.#ctx.state.members.keys()) this.schedule(ws)
  }

  /** Places every dirty workspace now. */
  flush (): void {
    const list = [...this.#dirty]
    this.#dirty.clear()
    for (const ws of list) {
      try {
        this.placeWorkspace(ws)
      } catch (err) {
        this.#ctx.log.error({ workspaceId: ws, err: (err as Error).message }, 'placement failed')
      }
    }
  }

  /** Re-places the pins of `workspaceIds` once the grace period of a node that went offline is over. */
  afterGrace (nodeId: string, workspaceIds: string[]): void {
    this.#ctx.later(this.#ctx.settings.repinGraceMs + 5, () => {
      if (this.#ctx.state.isOnline(nodeId)) return
      for (const ws of workspaceIds) this.schedule(ws)
    })
  }

  placeWorkspace (workspaceId: string): void {
    const { store } = this.#ctx
    if (this.#ctx.closed || store.getWorkspace(workspaceId) == null) return
    this.#ctx.tx(() => {
      const byPin = new Map<string, AllocationRow[]>()
      for (const a of store.listAllocationsOfWorkspace(workspaceId)) {
        const list = byPin.get(a.cid)
        if (list == null) byPin.set(a.cid, [a])
        else list.push(a)
      }
      for (const pin of store.listPins(workspaceId)) this.placePin(workspaceId, pin.cid, pin, byPin.get(pin.cid) ?? [])
    })
  }

  /** Brings one pin between its min and max copies (see `planPin`). Call inside `ctx.tx`. */
  placePin (workspaceId: string, cid: string, pinRow?: PinRow, allocs?: AllocationRow[]): void {
    const { store, state } = this.#ctx
    const pin = pinRow ?? store.getPin(workspaceId, cid)
    if (pin == null) return
    const allocations = allocs ?? store.listAllocationsOfPin(workspaceId, cid)
    const now = this.#ctx.clock.now()
    const members = this.#ctx.memberSet(workspaceId)
    const plan = planPin({ replicationMin: pin.replication_min, replicationMax: pin.replication_max, size: pin.size, allocations }, state.snapshot(members, workspaceId), now)
    let message: OrchestratorMessage | undefined
    for (const { nodeId, state: allocState } of plan.allocate) {
      this.setAllocation(workspaceId, cid, nodeId, allocState, null, now)
      if (allocState !== 'pinning') continue
      state.reserve(nodeId, pin.size)
      message ??= this.pinMessage(pin, allocations)
      this.#ctx.sendTo(nodeId, message)
    }
    if (plan.underReplicated) {
      const copies = plan.allocate.filter(a => a.state === 'pinning').length
      this.#ctx.log.debug({ workspaceId, cid, chosen: copies, min: pin.replication_min }, 'pin under-replicated')
    }
    for (const nodeId of plan.drop) {
      this.setAllocation(workspaceId, cid, nodeId, 'unpinning', null, now)
      const session = state.sessions.get(nodeId)
      if (session?.ready.has(workspaceId) === true) this.#ctx.send(session, { type: 'unpin_content', workspace_id: workspaceId, cid })
    }
  }

  /** `pin_content` for a pin, with the addresses of up to 3 ready members that hold it as providers. */
  pinMessage (pin: PinRow, allocations?: AllocationRow[]): OrchestratorMessage {
    const providers: string[] = []
    const peers = this.#ctx.state.peerAddrs.get(pin.workspace_id)
    if (peers != null && peers.size > 0) {
      for (const a of allocations ?? this.#ctx.store.listAllocationsOfPin(pin.workspace_id, pin.cid)) {
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

  setAllocation (workspaceId: string, cid: string, nodeId: string, state: AllocationState, error: { code: string, message: string } | null, at: number): void {
    this.#ctx.store.setAllocation(workspaceId, cid, nodeId, state, error == null ? null : JSON.stringify(error), at)
    this.#ctx.emit({ type: 'allocation', workspaceId, cid, nodeId, state, ...(error != null ? { error } : {}) })
  }

  removeAllocation (workspaceId: string, cid: string, nodeId: string): void {
    this.#ctx.store.deleteAllocation(workspaceId, cid, nodeId)
    this.#ctx.emit({ type: 'allocation', workspaceId, cid, nodeId, state: 'removed' })
  }

  close (): void {
    this.#dirty.clear()
    this.#ctx.cancel(this.#timer)
    this.#timer = undefined
  }
}
