/**
 * Time, injected: the orchestrator reads the time from a {@link Clock} and
 * sets its timers through a {@link Scheduler}, so that the replication rules
 * (grace periods, batching delays) can be tested by moving a manual clock
 * instead of sleeping.
 */

/** Milliseconds since the epoch. @default Date.now */
export interface Clock {
  now(): number
}

/** An opaque timer handle. */
export type TimerHandle = unknown

/** Sets and clears one-shot timers. Timers must not keep the process alive. @default setTimeout (unref'd) */
export interface Scheduler {
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

export const systemClock: Clock = { now: () => Date.now() }

export const systemScheduler: Scheduler = {
  setTimeout (fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout (handle) { clearTimeout(handle as NodeJS.Timeout) }
}

/** A clock and scheduler that only move when told: `advance(ms)` runs the timers that fall due, in order. */
export interface ManualTime extends Clock, Scheduler {
  advance(ms: number): void
  /** Timers not yet run. */
  readonly pending: number
}

/**
 * Manual time for tests.
 *
 * @example
 * ```ts
 * const time = createManualTime(1_000)
 * const orch = createOrchestrator({ databasePath: ':memory:', clock: time, scheduler: time })
 * time.advance(600_000) // the grace period is over
 * ```
 */
export function createManualTime (start = 0): ManualTime {
  let now = start
  let seq = 0
  const timers = new Map<number, { at: number, fn: () => void }>()
  return {
    now: () => now,
    setTimeout (fn, ms) {
      const id = ++seq
      timers.set(id, { at: now + Math.max(0, ms), fn })
      return id
    },
    clearTimeout (handle) { timers.delete(handle as number) },
    advance (ms) {
      const end = now + ms
      while (true) {
        let next: [number, { at: number, fn: () => void }] | undefined
        for (const entry of timers) {
          if (entry[1].at <= end && (next == null || entry[1].at < next[1].at)) next = entry
        }
        if (next == null) break
        timers.delete(next[0])
        now = Math.max(now, next[1].at)
        next[1].fn()
      }
      now = end
    },
    get pending () { return timers.size }
  }
}
