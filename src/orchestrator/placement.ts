/**
 * Pure placement: which nodes get a pin, and which copies are surplus.
 */

export interface PlacementCandidate {
  nodeId: string
  /** Free bytes the node reported (minus what was allocated since), `undefined` before its first report. */
  free: number | undefined
}

/** The number of copies a pin wants: `replicationMax`, or every member when it is -1. */
export function targetCopies (replicationMax: number, memberCount: number): number {
  return replicationMax === -1 ? memberCount : replicationMax
}

function freeOf (c: PlacementCandidate): number {
  return c.free ?? -1
}

function better (a: PlacementCandidate, b: PlacementCandidate): boolean {
  const fa = freeOf(a)
  const fb = freeOf(b)
  return fa > fb || (fa === fb && a.nodeId < b.nodeId)
}

/**
 * Picks up to `count` candidates with the most free space (ties by node id),
 * skipping those that cannot hold `size` bytes when both are known. O(n * count).
 *
 * @example
 * ```ts
 * chooseNodes([{ nodeId: 'a', free: 10 }, { nodeId: 'b', free: 99 }], 1) // ['b']
 * ```
 */
export function chooseNodes (candidates: PlacementCandidate[], count: number, size?: number | null): string[] {
  const fits = candidates.filter(c => size == null || c.free === undefined || c.free >= size)
  if (count <= 0 || fits.length === 0) return []
  if (count >= fits.length || count > 8) {
    return fits.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0)).slice(0, count).map(c => c.nodeId)
  }
  const chosen: string[] = []
  const taken = new Set<number>()
  for (let k = 0; k < count; k++) {
    let best = -1
    for (let i = 0; i < fits.length; i++) {
      if (taken.has(i)) continue
      if (best === -1 || better(fits[i], fits[best])) best = i
    }
    if (best === -1) break
    taken.add(best)
    chosen.push(fits[best].nodeId)
  }
  return chosen
}

/**
 * Which of `copies` to drop so that `keep` remain: not-yet-pinned copies
 * first, then the nodes with the least free space.
 */
export function chooseSurplus (copies: Array<PlacementCandidate & { pinned: boolean }>, keep: number): string[] {
  const drop = copies.length - keep
  if (drop <= 0) return []
  return [...copies]
    .sort((a, b) => {
      if (a.pinned !== b.pinned) return a.pinned ? 1 : -1
      return better(a, b) ? 1 : better(b, a) ? -1 : 0
    })
    .slice(0, drop)
    .map(c => c.nodeId)
}
