/**
 * The replication rules as pure functions: given a snapshot of the live state
 * (members, ready nodes, free space, who is online and since when a node is
 * offline) and the time, they say what to do. They write nothing and send
 * nothing: `replication.ts` applies their answer. Unit-tested without
 * sockets or timers (test/orchestrator-planner.spec.ts).
 */
import { chooseNodes, chooseSurplus, targetCopies } from './placement.js'
import type { AllocationRow, AllocationState } from './store/types.js'

/** Allocation states that hold (or will hold) a copy. */
export const ACTIVE_STATES: ReadonlySet<AllocationState> = new Set(['queued', 'pinning', 'pinned'])

/** What the planner reads of one workspace's live state. Views over the live maps: nothing is copied. */
export interface PlacementSnapshot {
  /** Member node ids of the workspace. */
  members: ReadonlySet<string>
  /** Members that sent `ipfs_ready` for the current key. */
  ready: Iterable<string>
  /** Whether a node has an open session. */
  isOnline(nodeId: string): boolean
  /** When each offline node went offline. */
  offlineSince: ReadonlyMap<string, number>
  /** Offline nodes without an entry count from this time (the orchestrator's start). */
  startedAt: number
  /** How long an offline node's copies still count (ms). */
  repinGraceMs: number
  /** Free bytes per node (last report minus what was allocated since). */
  free: ReadonlyMap<string, number>
}

/** Whether a copy on `nodeId` counts: the node is online, or offline for less than the grace period. */
export function countsAsCopy (snapshot: PlacementSnapshot, nodeId: string, now: number): boolean {
  if (snapshot.isOnline(nodeId)) return true
  const since = snapshot.offlineSince.get(nodeId) ?? snapshot.startedAt
  return now - since < snapshot.repinGraceMs
}

/** Active allocations on members whose copies count, optionally leaving one node out. */
export function countedAllocations (allocations: AllocationRow[], snapshot: PlacementSnapshot, now: number, except?: string): AllocationRow[] {
  return allocations.filter(a => a.node_id !== except && ACTIVE_STATES.has(a.state) && snapshot.members.has(a.node_id) && countsAsCopy(snapshot, a.node_id, now))
}

/** Confirmed copies that count (`pinned`, on a member online or within its grace period). */
export function countedCopies (allocations: AllocationRow[], snapshot: PlacementSnapshot, now: number): number {
  return allocations.filter(a => a.state === 'pinned' && snapshot.members.has(a.node_id) && countsAsCopy(snapshot, a.node_id, now)).length
}

export interface PinPlanInput {
  replicationMin: number
  replicationMax: number
  size: number | null
  allocations: AllocationRow[]
}

export interface PinPlan {
  /**
   * New allocations: `pinning` for ready nodes (send `pin_content`), `queued` for members that get it on their
   * next `pin_sync`; a `queued` one of a node ready now comes back as `pinning`.
   */
  allocate: Array<{ nodeId: string, state: 'pinning' | 'queued' }>
  /** Surplus copies to drop (set `unpinning`, send `unpin_content`). */
  drop: string[]
  /** Copies counted plus chosen is below `replicationMin`. */
  underReplicated: boolean
}

/**
 * Brings one pin between its min and max copies: allocates to the ready
 * members with the most free space that hold no allocation of it (an
 * `unpinning` node is not asked again until it is done), drops the surplus.
 *
 * @example
 * ```ts
 * planPin({ replicationMin: 1, replicationMax: 2, size: 10, allocations: [] }, snapshot, Date.now())
 * // { allocate: [{ nodeId: 'a', state: 'pinning' }, { nodeId: 'b', state: 'pinning' }], drop: [], underReplicated: false }
 * ```
 */
export function planPin (pin: PinPlanInput, snapshot: PlacementSnapshot, now: number): PinPlan {
  const members = snapshot.members
  const target = targetCopies(pin.replicationMax, members.size)
  const allocated = new Set<string>()
  for (const a of pin.allocations) allocated.add(a.node_id)
  const counted = countedAllocations(pin.allocations, snapshot, now)
  const plan: PinPlan = { allocate: [], drop: [], underReplicated: false }
  promoteQueued(pin.allocations, snapshot, plan)

  if (counted.length < target) {
    const candidates = []
    for (const nodeId of snapshot.ready) {
      if (!allocated.has(nodeId)) candidates.push({ nodeId, free: snapshot.free.get(nodeId) })
    }
    const chosen = chooseNodes(candidates, target - counted.length, pin.size)
    for (const nodeId of chosen) plan.allocate.push({ nodeId, state: 'pinning' })
    plan.underReplicated = counted.length + chosen.length < pin.replicationMin
    if (pin.replicationMax === -1) {
      const picked = new Set(chosen)
      for (const nodeId of members) {
        if (!allocated.has(nodeId) && !picked.has(nodeId)) plan.allocate.push({ nodeId, state: 'queued' })
      }
    }
    return plan
  }

  if (counted.length > target && pin.replicationMax !== -1) {
    plan.drop = chooseSurplus(counted.map(a => ({ nodeId: a.node_id, free: snapshot.free.get(a.node_id), pinned: a.state === 'pinned' })), target)
  }
  return plan
}

/**
 * A `queued` allocation on a member that is ready now becomes `pinning` (and
 * gets its `pin_content`). Its node's `pin_sync` normally does that, but on
 * PostgreSQL the `pin_sync` can read the node's allocations before a placement
 * running beside it (planned while the node was not ready yet) commits the
 * `queued` row: the placement that `pin_sync` schedules then finds it here.
 */
function promoteQueued (allocations: AllocationRow[], snapshot: PlacementSnapshot, plan: PinPlan): void {
  let ready: Set<string> | undefined
  for (const a of allocations) {
    if (a.state !== 'queued' || !snapshot.members.has(a.node_id)) continue
    ready ??= new Set(snapshot.ready)
    if (ready.has(a.node_id)) plan.allocate.push({ nodeId: a.node_id, state: 'pinning' })
  }
}

/** One step of a `pin_sync` reconciliation, in order. */
export type PinSyncAction =
  | { op: 'set', cid: string, state: 'pinned' }
  /** The node lost a copy it should have: ask again. */
  | { op: 'repin', cid: string }
  /** An allocation whose pin is gone: forget it. */
  | { op: 'forget', cid: string }
  /** An `unpinning` allocation the node no longer holds: done. */
  | { op: 'removed', cid: string }
  | { op: 'unpin', cid: string }

/**
 * Reconciles what a node holds (`have`, normalised CIDs) with its allocations
 * in one workspace: copies it holds are `pinned`, copies it lost are asked
 * again, copies nobody wants are unpinned, unknown copies of a pin are adopted.
 *
 * @example
 * ```ts
 * planPinSync([{ cid: 'bafyA', state: 'pinning', ... }], new Set(['bafyA', 'bafyB']), cid => cid === 'bafyA')
 * // [{ op: 'set', cid: 'bafyA', state: 'pinned' }, { op: 'unpin', cid: 'bafyB' }]
 * ```
 */
export function planPinSync (allocations: Array<Pick<AllocationRow, 'cid' | 'state'>>, have: ReadonlySet<string>, isPinned: (cid: string) => boolean): PinSyncAction[] {
  const out: PinSyncAction[] = []
  const known = new Set<string>()
  for (const a of allocations) {
    known.add(a.cid)
    if (ACTIVE_STATES.has(a.state)) {
      if (have.has(a.cid)) {
        if (a.state !== 'pinned') out.push({ op: 'set', cid: a.cid, state: 'pinned' })
      } else if (!isPinned(a.cid)) {
        out.push({ op: 'forget', cid: a.cid })
      } else {
        out.push({ op: 'repin', cid: a.cid })
      }
    } else if (a.state === 'unpinning') {
      out.push(have.has(a.cid) ? { op: 'unpin', cid: a.cid } : { op: 'removed', cid: a.cid })
    } else if (a.state === 'failed' && have.has(a.cid)) {
      out.push({ op: 'set', cid: a.cid, state: 'pinned' })
    }
  }
  for (const cid of have) {
    if (known.has(cid)) continue
    out.push(isPinned(cid) ? { op: 'set', cid, state: 'pinned' } : { op: 'unpin', cid })
  }
  return out
}
