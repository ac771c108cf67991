/**
 * `<storage root>/otherthing-storage/.lock`: one process at a time opens a
 * storage path. The file holds `{ pid, hostname, startedAt }` of the holder,
 * so a second runner is refused with a {@link StoragePathLockedError} that
 * names it, instead of failing later deep inside LevelDB ("Database failed
 * to open").
 *
 * The file appears atomically (written to a temp file, then hard-linked into
 * place, which fails when it exists), so a reader never sees half a lock. A
 * lock left by a process that died on this host is stale and taken over;
 * a lock from another host cannot be checked and is respected (delete the
 * file once that host is known to be down).
 */
import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { hostname as osHostname } from 'node:os'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { StoragePathLockedError } from '../errors.js'
import type { AbortOptions } from '../util/abort.js'
import { throwIfAborted } from '../util/abort.js'

const log = logger('otherthing-storage:lock')

/** Name of the lock file in the storage root. */
export const LOCK_FILE_NAME = '.lock'

export interface LockHolder {
  pid: number
  hostname: string
  startedAt: string
}

export interface StorageLock {
  /** The lock file. */
  readonly path: string
  readonly holder: LockHolder
  /** Removes the lock file (idempotent). */
  release(): Promise<void>
}

/** Lock files this process holds: a second acquire of one of them is refused even with the same pid. */
const heldHere = new Set<string>()

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    // EPERM: the process exists but belongs to someone else
    return err?.code === 'EPERM'
  }
}

async function readHolder (path: string): Promise<Partial<LockHolder> | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err?.code === 'ENOENT') return undefined
    throw err
  }
  try {
    const v = JSON.parse(text)
    return {
      ...(Number.isSafeInteger(v?.pid) ? { pid: v.pid } : {}),
      ...(typeof v?.hostname === 'string' ? { hostname: v.hostname } : {}),
      ...(typeof v?.startedAt === 'string' ? { startedAt: v.startedAt } : {})
    }
  } catch (err) {
    log('lock file %s is not JSON: %e', path, err)
    return {}
  }
}

/** Whether the lock described by `holder` can be taken over: its process is gone (checked on this host only). */
function isStale (path: string, holder: Partial<LockHolder>): boolean {
  if (holder.pid == null || holder.hostname == null) return true // corrupt: no one can be named, nothing to protect
  if (holder.hostname !== osHostname()) return false
  if (holder.pid === process.pid) return !heldHere.has(path) // a previous process with our pid (containers: pid 1)
  return !isAlive(holder.pid)
}

/**
 * Removes a stale lock file, under a takeover mutex (`.lock.takeover`, a
 * directory: mkdir is atomic), so that two processes that both found the
 * same stale lock cannot remove each other's fresh one.
 */
async function takeOverStale (path: string): Promise<void> {
  const mutex = `${path}.takeover`
  try {
    await mkdir(mutex)
  } catch (err: any) {
    if (err?.code !== 'EEXIST') throw err
    // another process is taking over; one left behind by a crash mid-takeover is removed after a while
    const age = Date.now() - (await stat(mutex).catch((statErr: unknown) => {
      log('takeover mutex %s went away: %e', mutex, statErr)
      return { mtimeMs: Date.now() }
    })).mtimeMs
    if (age > TAKEOVER_STALE_MS) await rm(mutex, { recursive: true, force: true })
    await new Promise(resolve => setTimeout(resolve, 50))
    return
  }
  try {
    const current = await readHolder(path)
    if (current !== undefined && isStale(path, current)) {
      log('taking over the stale lock %s of process %s on %s', path, current.pid, current.hostname)
      await rm(path, { force: true })
    }
  } finally {
    await rm(mutex, { recursive: true, force: true })
  }
}

/** A takeover mutex older than this was left by a crash. */
const TAKEOVER_STALE_MS = 10_000

/**
 * Takes the lock of a storage root (`<storagePath>/otherthing-storage`).
 *
 * @throws {StoragePathLockedError} when a live process holds it (its pid, host and start time are on the error)
 * @example
 * ```ts
 * const lock = await acquireStorageLock(layout.root)
 * try { ... } finally { await lock.release() }
 * ```
 */
export async function acquireStorageLock (root: string, options: AbortOptions = {}): Promise<StorageLock> {
  throwIfAborted(options.signal)
  await mkdir(root, { recursive: true })
  const path = join(root, LOCK_FILE_NAME)
  const holder: LockHolder = { pid: process.pid, hostname: osHostname(), startedAt: new Date().toISOString() }
  const tmp = join(root, `${LOCK_FILE_NAME}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  await writeFile(tmp, JSON.stringify(holder) + '\n', { mode: 0o644, flag: 'wx' })
  try {
    for (let attempt = 0; ; attempt++) {
      if (heldHere.has(path)) throw new StoragePathLockedError(path, await readHolder(path) ?? {})
      try {
        await link(tmp, path)
        break
      } catch (err: any) {
        if (err?.code !== 'EEXIST') throw err
      }
      const current = await readHolder(path)
      if (current === undefined) continue // released meanwhile: try again
      if (!isStale(path, current) || attempt >= 5) throw new StoragePathLockedError(path, current)
      await takeOverStale(path)
    }
  } finally {
    await rm(tmp, { force: true })
  }
  heldHere.add(path)
  let released = false
  return {
    path,
    holder,
    async release () {
      if (released) return
      released = true
      heldHere.delete(path)
      const current = await readHolder(path)
      if (current?.pid === holder.pid && current.startedAt === holder.startedAt) await rm(path, { force: true })
      else log('lock %s was taken over by another process; leaving it', path)
    }
  }
}
