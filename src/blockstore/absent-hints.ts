/**
 * Remembers blocks that a recent `has()` found missing, so the `put()` that usually follows
 * (Helia's blockstore asks `has()` before every `put()`) can skip a second existence check.
 *
 * Invariant: a hint for a key exists only if no write of that key has completed since the
 * `has()` that found it missing started. Writes report completion with `written(key)`, which
 * drops the key's hint and spoils the result of any `has()` of that key still in flight.
 * A hint is used at most once (`consume`), and only by a put holding the block's lock, so a
 * block is never counted twice. Hints are bounded (oldest dropped first); a missing hint only
 * costs an extra existence check.
 */
export interface AbsentHints {
  /** A `has(key)` is starting; pass its result to `end`. */
  begin(key: string): void
  /** The `has(key)` that called `begin` found `exists`. */
  end(key: string, exists: boolean): void
  /** A write of `key` completed (the block is now stored). */
  written(key: string): void
  /** True (once) if the block was found missing and nothing wrote it since. */
  consume(key: string): boolean
  /** Forget everything. */
  clear(): void
}

class DefaultAbsentHints implements AbsentHints {
  private readonly hints = new Set<string>()
  /** keys with a `has()` in flight -> how many */
  private readonly checking = new Map<string, number>()
  /** keys written while a `has()` of them was in flight */
  private readonly spoiled = new Set<string>()

  constructor (private readonly max: number) {}

  begin (key: string): void {
    this.checking.set(key, (this.checking.get(key) ?? 0) + 1)
  }

  end (key: string, exists: boolean): void {
    const n = (this.checking.get(key) ?? 1) - 1
    const spoiled = this.spoiled.has(key)
    if (n <= 0) {
      this.checking.delete(key)
      this.spoiled.delete(key)
    } else {
      this.checking.set(key, n)
    }
    if (exists || spoiled) return
    if (this.hints.size >= this.max) {
      const oldest = this.hints.values().next().value
      if (oldest != null) this.hints.delete(oldest)
    }
    this.hints.add(key)
  }

  written (key: string): void {
    this.hints.delete(key)
    if (this.checking.has(key)) this.spoiled.add(key)
  }

  consume (key: string): boolean {
    return this.hints.delete(key)
  }

  clear (): void {
    this.hints.clear()
    // checks in flight keep their counters; a spoiled mark must survive until they end
  }
}

/** @param max hints kept at most @default 4096 */
export function createAbsentHints (max = 4096): AbsentHints {
  return new DefaultAbsentHints(max)
}
