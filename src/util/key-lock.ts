/**
 * A per-key mutex: operations on the same key run one after the other,
 * operations on different keys run in parallel. Used to serialise the puts
 * and deletes of one block, or the join/leave of one workspace.
 *
 * Built on `mortice` (the lock Helia and libp2p use): one write-only mutex per
 * key that has work queued, finalised as soon as the key is idle, so the map
 * never grows with the number of keys ever seen. Mortice names its mutexes
 * globally, so each lock gets a unique name prefix: two locks never share a
 * mutex.
 */
import mortice from 'mortice'
import type { Mortice } from 'mortice'
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

let locks = 0

/**
 * @example
 * ```ts
 * const lock = createKeyLock()
 * await Promise.all([lock.run('a', write1), lock.run('a', write2), lock.run('b', write3)])
 * // write2 starts after write1 settles; write3 runs alongside them
 * ```
 */
export function createKeyLock (): KeyLock {
  const prefix = `otherthing-storage:key-lock:${++locks}:`
  const held = new Map<string, { mutex: Mortice, users: number }>()

  return {
    get size () { return held.size },
    async run<T>(key: string, fn: () => Promise<T>, options?: AbortOptions): Promise<T> {
      let entry = held.get(key)
      if (entry == null) {
        entry = { mutex: mortice({ name: prefix + key, singleProcess: true }), users: 0 }
        held.set(key, entry)
      }
      entry.users++
      try {
        let release: () => void
        try {
          release = await entry.mutex.writeLock(options)
        } catch (err) {
          throw toStorageError(err)
        }
        try {
          return await fn()
        } finally {
          release()
        }
      } finally {
        if (--entry.users === 0) {
          held.delete(key)
          entry.mutex.finalize()
        }
      }
    }
  }
}
