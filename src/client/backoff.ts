/**
 * Exponential backoff with jitter: attempt n waits a random time in
 * [d/2, d] where d = min(maxMs, initialMs * 2^n).
 *
 * Why not `p-retry`: the client does not retry one operation a bounded number
 * of times, it reconnects forever and starts again from the first delay once
 * the orchestrator has welcomed it (a connection that lived for hours and
 * drops must not wait 30 s). p-retry's attempt counter only grows, so it
 * would need to be re-created on each welcome; these three lines are simpler.
 *
 * @example
 * ```ts
 * backoffDelay(0, 500, 30000) // 250..500
 * backoffDelay(10, 500, 30000) // 15000..30000
 * ```
 */
export function backoffDelay (attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30))
  return Math.round(d / 2 + random() * d / 2)
}
