/**
 * A per-key mutex: operations on the same key run one after the other, operations on
 * different keys run in parallel. Used to serialise puts and deletes of one block.
 */
export interface KeyLock {
  /** Run `fn` once every earlier `run` with the same key has settled. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T>
  /** Number of keys with queued or running work. */
  readonly size: number
}

export function createKeyLock (): KeyLock {
  const tails = new Map<string, Promise<unknown>>()

  return {
    get size () { return tails.size },
    async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const previous = tails.get(key)
      const current = previous == null
        ? fn()
        : previous.then(fn, fn)
      // the tail never rejects, so waiting on it never raises an unhandled rejection
      const tail = current.then(noop, noop)
      tails.set(key, tail)
      try {
        return await current
      } finally {
        if (tails.get(key) === tail) {
          tails.delete(key)
        }
      }
    }
  }
}

function noop (): void {}
