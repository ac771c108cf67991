/**
 * Group commit of `pin()` calls (PostgreSQL): the calls that arrive while a
 * group is being written (or within one event-loop turn) are written
 * together, in ONE transaction of a few multi-row statements: the pins
 * upserted and locked in (workspace, cid) order, their allocations read,
 * placed, and the new allocations written. Placement stays per pin and under
 * the same row locks as a single call, so two instances racing on one pin
 * still place it once. When the group's transaction fails (a workspace that
 * does not exist, a lock timeout), every call of it runs again on its own,
 * so one bad call fails alone with its own typed error.
 *
 * An instance that does not lead places nothing itself, so for the pins a
 * group inserts there is nothing to read or place under the lock: there the
 * group is first one upsert statement on its own (no BEGIN / COMMIT), and
 * only the calls whose pin existed before go through the transaction.
 */
import { pinStatusOf } from '../views.js'
import { AllocationBatch } from '../replication.js'
import { hasBulk } from '../store/types.js'
import type { AllocationRow, PinRow, StoredPin } from '../store/types.js'
import type { PinStatus } from '../types.js'
import type { OrchestratorParts, PinCall, PinWriter } from './parts.js'

interface Waiting extends PinCall {
  resolve: (status: PinStatus) => void
  reject: (err: unknown) => void
}

/** At most this many calls per group (one multi-row statement each). */
const MAX_GROUP = 1000

export class PinGroup implements PinWriter {
  readonly #parts: OrchestratorParts
  readonly #single: (call: PinCall) => Promise<PinStatus>
  #queue: Waiting[] = []
  #running = false

  /** `single` writes one call in its own transaction (the fallback). */
  constructor (parts: OrchestratorParts, single: (call: PinCall) => Promise<PinStatus>) {
    this.#parts = parts
    this.#single = single
  }

  /** Whether the store can write groups (multi-row statements). */
  get enabled (): boolean { return hasBulk(this.#parts.ctx.store) }

  async add (call: PinCall): Promise<PinStatus> {
    return await new Promise<PinStatus>((resolve, reject) => {
      this.#queue.push({ ...call, resolve, reject })
      if (!this.#running) {
        this.#running = true
        setImmediate(() => { void this.#drain() })
      }
    })
  }

  async #drain (): Promise<void> {
    while (this.#queue.length > 0) {
      // a key twice in one group would be upserted twice by one statement: the repeat waits for the next group
      const seen = new Set<string>()
      const group: Waiting[] = []
      const later: Waiting[] = []
      for (const w of this.#queue) {
        const key = `${w.workspaceId}\0${w.cid}`
        if (seen.has(key) || group.length >= MAX_GROUP) later.push(w)
        else {
          seen.add(key)
          group.push(w)
        }
      }
      this.#queue = later
      const again = await this.#writeNew(group)
      if (again.length > 0) await this.#write(again)
    }
    this.#running = false
  }

  /**
   * On an instance that does not lead (it places nothing itself: it asks the leader), the group's upsert alone, ONE
   * statement outside a transaction (one round trip where the transaction was three): the pins it inserted are
   * done, with no allocations yet, and the leader is asked to place them. Returns the calls whose pin existed
   * before (a pin() again: failed copies to retry, allocations to answer with), for the transaction of
   * {@link #write}; the whole group when this instance leads, or when the statement failed (nothing written).
   */
  async #writeNew (group: Waiting[]): Promise<Waiting[]> {
    const { ctx, replication } = this.#parts
    const store = ctx.store
    if (ctx.link.isLeader() || !hasBulk(store)) return group
    let stored: StoredPin[]
    try {
      stored = await store.upsertPins(pinRows(group, ctx.clock.now()))
    } catch (err) {
      ctx.log.debug({ calls: group.length, err: (err as Error).message }, 'pin upsert failed: in a transaction')
      return group
    }
    const fresh: Array<{ call: Waiting, row: PinRow }> = []
    const again: Waiting[] = []
    for (let i = 0; i < group.length; i++) {
      if (stored[i].inserted) fresh.push({ call: group[i], row: stored[i].row })
      else again.push(group[i])
    }
    for (const { call } of fresh) {
      ctx.emitNow({ type: 'pin:added', workspaceId: call.workspaceId, cid: call.cid })
      replication.schedulePin(call.workspaceId, call.cid)
    }
    try {
      const online = await ctx.link.onlineNodes()
      for (const { call, row } of fresh) call.resolve(pinStatusOf(ctx, row, [], online))
    } catch (err) {
      for (const { call } of fresh) call.reject(err)
    }
    return again
  }

  async #write (group: Waiting[]): Promise<void> {
    const { ctx, replication } = this.#parts
    let answers: Array<{ stored: PinRow, allocations: AllocationRow[] }>
    try {
      answers = await ctx.tx(async t => {
        const db = t.db
        if (!hasBulk(db)) throw new Error('the store has no multi-row statements')
        const stored = await db.upsertPins(pinRows(group, ctx.clock.now()))
        const byPin = new Map<string, AllocationRow[]>()
        // a pin this statement inserted has no allocations yet (they reference its row, which no one else sees before the commit)
        const known = group.filter((c, i) => !stored[i].inserted).map(c => ({ workspace_id: c.workspaceId, cid: c.cid }))
        for (const a of await db.listAllocationsOfKeys(known)) {
          const key = `${a.workspace_id}\0${a.cid}`
          const list = byPin.get(key)
          if (list == null) byPin.set(key, [a])
          else list.push(a)
        }
        // pinning again is how an operator retries failed copies
        const failed = new Map<string, Array<{ cid: string, node_id: string }>>()
        for (const list of byPin.values()) {
          for (const a of list) {
            if (a.state !== 'failed') continue
            let keys = failed.get(a.workspace_id)
            if (keys == null) failed.set(a.workspace_id, keys = [])
            keys.push({ cid: a.cid, node_id: a.node_id })
          }
        }
        for (const [ws, keys] of failed) await db.deleteAllocations(ws, keys)
        const batch = new AllocationBatch()
        const kept: AllocationRow[][] = []
        for (let i = 0; i < group.length; i++) {
          const c = group[i]
          const { row, inserted } = stored[i]
          const allocations = (byPin.get(`${c.workspaceId}\0${c.cid}`) ?? []).filter(a => a.state !== 'failed')
          kept.push(allocations)
          await replication.placePin(t, c.workspaceId, c.cid, row, allocations, batch)
          if (inserted) batch.after(() => { t.emit({ type: 'pin:added', workspaceId: c.workspaceId, cid: c.cid }) })
        }
        // the answers from what this transaction wrote (a node found no longer a member is left out), not read back
        const written = new Map<string, AllocationRow[]>()
        for (const a of await replication.writeAllocations(t, batch)) {
          const key = `${a.workspace_id}\0${a.cid}`
          const list = written.get(key)
          if (list == null) written.set(key, [a])
          else list.push(a)
        }
        return group.map((c, i) => {
          const byNode = new Map(kept[i].map(a => [a.node_id, a]))
          for (const a of written.get(`${c.workspaceId}\0${c.cid}`) ?? []) byNode.set(a.node_id, a)
          return { stored: stored[i].row, allocations: [...byNode.values()] }
        })
      })
    } catch (err) {
      if (group.length > 1) ctx.log.debug({ calls: group.length, err: (err as Error).message }, 'pin group failed: each call on its own')
      await Promise.all(group.map(async w => { await this.#single(w).then(w.resolve, w.reject) }))
      return
    }
    try {
      const online = await ctx.link.onlineNodes()
      for (let i = 0; i < group.length; i++) group[i].resolve(pinStatusOf(ctx, answers[i].stored, answers[i].allocations, online))
    } catch (err) {
      for (const w of group) w.reject(err)
    }
  }
}

/** The pin rows of a group's calls, as an upsert writes them. */
function pinRows (group: PinCall[], now: number): PinRow[] {
  return group.map(c => ({
    workspace_id: c.workspaceId, cid: c.cid, name: c.request.name ?? null, size: c.request.size ?? null, replication_min: c.min, replication_max: c.max, created_at: now
  }))
}
