/**
 * A per-key mutex: operations on the same key run one after the other,
 * operations on different keys run in parallel. Used to serialise the puts
 * and deletes of one block, or the join/leave of one workspace.
 *
 * A chain of promises per key that has work queued, forgotten as soon as the
 * key is idle, so the map never grows with the number of keys ever seen. An
 * uncontended key costs one map entry and no extra turn of the event loop
 * (the block writes of a 100,000-file folder take this lock once per block;
 * a mutex object per key, as `mortice` makes, cost more than the write).
 */
import type { AbortOptions } from '@libp2p/interface'
import { toStorageError } from './abort.js'

export interface KeyLock {
  /**
   * Runs `fn` once every earlier `run` with the same key has settled.
   * @throws {AbortedError} when `options.signal` aborts while waiting (then `fn` never runs)
   */
  run<T>(key: string, fn: () => Promise<T>, options?: AbortOptions): Promise<T>
  /** Number of keys with queued or running work. */
  readonly size: number
}

interface Entry {
  /** settles when the last queued run has settled */
  tail: Promise<void>
  users: number
}

/** Waits for `p`, or rejects with the signal's reason when it aborts first. */
async function waitFor (p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (signal == null) return p
  signal.throwIfAborted()
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * @example
 * ```ts
 * const lock = createKeyLock()
 * await Promise.all([lock.run('a', write1), lock.run('a', write2), lock.run('b', write3)])
 * // write2 starts after write1 settles; write3 runs alongside them
 * ```
 */
export function createKeyLock (): KeyLock {
  const held = new Map<string, Entry>()

  return {
    get size () { return held.size },
    async run<T>(key: string, fn: () => Promise<T>, options?: AbortOptions): Promise<T> {
      let entry = held.get(key)
      const prev = entry?.tail
      if (entry == null) {
        entry = { tail: Promise.resolve(), users: 0 }
        held.set(key, entry)
      }
      entry.users++
      let release = (): void => {}
      entry.tail = new Promise<void>(resolve => { release = resolve })
      const done = (): void => {
        const e = entry as Entry
        if (--e.users === 0) held.delete(key)
        release()
      }
      if (prev != null) {
        try {
          await waitFor(prev, options?.signal)
        } catch (err) {
          // the next run waits for ours, so ours ends only once the one before it has
          void prev.then(done)
          throw toStorageError(err)
        }
      } else if (options?.signal?.aborted === true) {
        done()
        throw toStorageError(options.signal.reason)
      }
      try {
        return await fn()
      } finally {
        done()
      }
    }
  }
}
