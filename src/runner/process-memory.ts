/**
 * V8 settings of our own node process (the CLI's runner; bin/otherthing-storage.js applies the
 * same). A library cannot set these for its host, and most V8 heap flags are read once, when
 * the heap is made: `v8.setFlagsFromString('--max-semi-space-size=4')` at run time leaves the
 * new space at its default 2 x 16 MiB (measured). The growth factor is read each time V8
 * decides to grow the new space, so it does take effect at run time: with 1 the new space keeps
 * its initial 2 x 1 MiB instead of doubling to 32 MiB committed during start-up, when module
 * loading makes most young objects survive (see docs/performance.md for the idle RSS). Once the
 * node has started, `letNewSpaceGrow` gives V8 its default back, so the work that follows (an
 * add, a pin) runs with the young generation V8 would choose (a permanently small one promotes
 * more short-lived objects to the old generation).
 */
import v8 from 'node:v8'

/** Flags applied at run time by `keepNewSpaceSmall`. */
export const RUNNER_V8_FLAGS = ['--semi-space-growth-factor=1'] as const

/** Keeps V8's new space at its initial size in this process (call before loading the node's modules). */
export function keepNewSpaceSmall (): void {
  for (const flag of RUNNER_V8_FLAGS) v8.setFlagsFromString(flag)
}

/** V8's default growth of the new space again (call once the node has started). */
export function letNewSpaceGrow (): void {
  v8.setFlagsFromString('--semi-space-growth-factor=2')
}
