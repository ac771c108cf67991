/**
 * V8 settings of our own node process (the CLI's runner; bin/otherthing-storage.js applies the
 * same). A library cannot set these for its host, and most V8 heap flags are read once, when
 * the heap is made: `v8.setFlagsFromString('--max-semi-space-size=4')` at run time leaves the
 * new space at its default 2 x 16 MiB (measured). The growth factor is read each time V8
 * decides to grow the new space, so it does take effect at run time: with 1 the new space keeps
 * its initial 2 x 1 MiB instead of doubling to 32 MiB committed during start-up, when module
 * loading makes most young objects survive (see docs/performance.md for the idle RSS). Once the
 * node has started, `letNewSpaceGrow` gives V8 its default growth back, up to a cap, so the
 * work that follows (an add, a pin) runs with a young generation larger than start-up's but
 * not one that keeps growing with the length of the work.
 */
import v8 from 'node:v8'

/** Flags applied at run time by `keepNewSpaceSmall`. */
export const RUNNER_V8_FLAGS = ['--semi-space-growth-factor=1'] as const

/** Keeps V8's new space at its initial size in this process (call before loading the node's modules). */
export function keepNewSpaceSmall (): void {
  for (const flag of RUNNER_V8_FLAGS) v8.setFlagsFromString(flag)
}

/**
 * Largest new space (MiB, both semi-spaces, as V8 reports it) `letNewSpaceGrow` lets V8 reach;
 * V8's own maximum here is 32.
 */
export const MAX_NEW_SPACE_MB = 4
/** How often the new space's size is looked at, ms. */
const CHECK_MS = 250

let check: NodeJS.Timeout | undefined

/**
 * V8's default growth of the new space again (call once the node has started), until it has
 * reached `maxMb` (MAX_NEW_SPACE_MB). V8 doubles the new space each time the bytes that survived
 * scavenges since the last doubling exceed its size, so any sustained work keeps doubling it,
 * whatever the survival rate: during a 4 GiB add it went 2, 4, 8, 16, 32 MiB where a 1 GiB add
 * stopped at 8-16, and that was the RSS difference between them (docs/performance.md
 * 2026-12-04). V8 reads its maximum once, when the heap is made; the growth factor it reads at
 * each doubling. So the factor goes back to 1, for good, once the new space has reached `maxMb`
 * (looked at every `checkMs` until then, on a timer that keeps no process alive). Not back to 2
 * when V8 shrinks it (its memory reducer, or a quiet moment's low allocation rate): the bytes
 * survived since the last doubling are still counted, so a factor of 2 again can double it
 * twice between two looks (the likely way one loaded 4 GiB run reached 32 MiB when the factor
 * went back to 2 below the cap).
 */
export function letNewSpaceGrow (options: { maxMb?: number, checkMs?: number } = {}): void {
  clearInterval(check)
  const max = (options.maxMb ?? MAX_NEW_SPACE_MB) * 1024 * 1024
  v8.setFlagsFromString('--semi-space-growth-factor=2')
  const apply = (): void => {
    const size = v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space')?.space_size ?? 0
    if (size < max) return
    v8.setFlagsFromString('--semi-space-growth-factor=1')
    clearInterval(check)
  }
  check = setInterval(apply, options.checkMs ?? CHECK_MS).unref()
}
