/**
 * V8 settings of our own node process (the CLI's runner; bin/otherthing-storage.js applies the
 * same). A library cannot set these for its host, and most V8 heap flags are read once, when
 * the heap is made: `v8.setFlagsFromString('--max-semi-space-size=4')` at run time leaves the
 * new space at its default 2 x 16 MiB (measured). The growth factor is read each time V8
 * decides to grow the new space, so it does take effect at run time: with 1 the new space keeps
 * its initial 2 x 1 MiB instead of doubling to 32 MiB committed during start-up, when module
 * loading makes most young objects survive (see docs/performance.md for the idle RSS).
 *
 * It keeps that size for the life of the process. V8 doubles the new space whenever the bytes
 * surviving scavenges since the last doubling exceed its size, so with the default factor any
 * sustained work keeps doubling it: during a 4 GiB add it went 2, 4, 8, 16, 32 MiB where a 1 GiB
 * add stopped at 8-16, and that was the RSS difference between them. Giving the factor back
 * after start-up (as this module did) or only up to a cap looked at on a timer (tried: V8 can
 * double twice between two looks, and did under load) does not bound it; the small new space
 * costs no measurable CPU in an add (docs/performance.md 2026-12-04).
 */
import v8 from 'node:v8'

/** Flags applied at run time by `keepNewSpaceSmall`. */
export const RUNNER_V8_FLAGS = ['--semi-space-growth-factor=1'] as const

/** Keeps V8's new space at its initial size in this process (call before loading the node's modules). */
export function keepNewSpaceSmall (): void {
  for (const flag of RUNNER_V8_FLAGS) v8.setFlagsFromString(flag)
}
