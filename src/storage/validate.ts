/**
 * Checks that a path the user picked can hold the storage root: it is
 * absolute, exists or can be created, is a directory, really takes a write
 * (a probe file is written, fsynced and removed) and has the free space asked
 * for.
 *
 * Directories the check had to create are removed again when the check
 * fails (or is aborted), so a refused path leaves nothing behind; when it
 * succeeds they stay, ready to use.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, rm, stat, unlink } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { InvalidStoragePathError } from '../errors.js'
import { formatBytes } from './bytes.js'
import { getFreeSpace } from './drives.js'
import { throwIfAborted } from '../util/abort.js'
import { logger } from '@libp2p/logger'

const log = logger('otherthing-storage:validate')

/** Why a storage path was refused. */
export type StoragePathFailureCode = 'not-absolute' | 'not-directory' | 'not-writable' | 'insufficient-space' | 'cannot-create'

/** A usable storage path. */
export interface StoragePathOk {
  ok: true
  /** The path, absolute and normalized. */
  path: string
  /** Bytes a non-root user may still write on its file system (df's "Avail"). */
  availableBytes: number
  /** Size of its file system. */
  totalBytes: number
}

/** A refused storage path. */
export interface StoragePathFailure {
  ok: false
  path: string
  /** A sentence for people, naming the path and the problem. */
  reason: string
  code: StoragePathFailureCode
}

export type StoragePathCheck = StoragePathOk | StoragePathFailure

export interface ValidateStoragePathOptions {
  /**
   * Bytes that must be available on the path's file system.
   *
   * @default 0
   */
  minFreeBytes?: number
  /**
   * Create the directory (`mkdir -p`) when it does not exist. With `false` a
   * missing directory fails with `cannot-create`.
   *
   * @default true
   */
  create?: boolean
  signal?: AbortSignal
}

const PROBE_BYTES = 4096

function fail (path: string, code: StoragePathFailureCode, reason: string): StoragePathFailure {
  return { ok: false, path, code, reason }
}

function errText (err: any): string {
  return typeof err?.code === 'string' ? `${err.code as string}: ${err.message as string}` : String(err?.message ?? err)
}

/** Writes, fsyncs and removes a small probe file in `dir`. */
async function probeWrite (dir: string): Promise<void> {
  const probe = join(dir, `.otherthing-write-probe-${randomBytes(6).toString('hex')}`)
  const handle = await open(probe, 'wx')
  try {
    await handle.writeFile(randomBytes(PROBE_BYTES))
    await handle.sync()
  } finally {
    await handle.close()
    await unlink(probe).catch((err: unknown) => { log('cannot remove the write probe %s: %e', probe, err) })
  }
}

/**
 * Checks a storage path; never throws for a bad path (only when aborted).
 *
 * @example
 * ```ts
 * const check = await validateStoragePath('/mnt/data', { minFreeBytes: 10 * 2 ** 30 })
 * if (!check.ok) console.error(check.code, check.reason)
 * ```
 */
export async function validateStoragePath (path: string, options: ValidateStoragePathOptions = {}): Promise<StoragePathCheck> {
  const { signal, minFreeBytes = 0, create = true } = options
  throwIfAborted(signal)

  if (typeof path !== 'string' || path.length === 0 || path.includes('\0') || !isAbsolute(path)) {
    return fail(String(path), 'not-absolute', `Storage path ${JSON.stringify(String(path))} must be an absolute path`)
  }
  const abs = resolve(path)
  let firstCreated: string | undefined
  let ok = false

  try {
    // 1. exists, or can be created
    try {
      const st = await stat(abs)
      if (!st.isDirectory()) return fail(abs, 'not-directory', `Storage path ${abs} exists but is not a directory`)
    } catch (err: any) {
      if (err?.code === 'ENOTDIR') return fail(abs, 'not-directory', `Storage path ${abs} is under something that is not a directory`)
      if (err?.code !== 'ENOENT') return fail(abs, 'cannot-create', `Storage path ${abs} cannot be read (${errText(err)})`)
      if (!create) return fail(abs, 'cannot-create', `Storage path ${abs} does not exist`)
      try {
        firstCreated = await mkdir(abs, { recursive: true })
      } catch (mkErr: any) {
        if (mkErr?.code === 'ENOTDIR' || mkErr?.code === 'EEXIST') {
          return fail(abs, 'not-directory', `Storage path ${abs} cannot be created: a parent is not a directory`)
        }
        return fail(abs, 'cannot-create', `Storage path ${abs} cannot be created (${errText(mkErr)})`)
      }
    }
    throwIfAborted(signal)

    // 2. a real write reaches the disk
    try {
      await probeWrite(abs)
    } catch (err: any) {
      if (err?.code === 'ENOSPC' || err?.code === 'EDQUOT') {
        return fail(abs, 'insufficient-space', `Storage path ${abs} has no space left (${errText(err)})`)
      }
      return fail(abs, 'not-writable', `Storage path ${abs} is not writable (${errText(err)})`)
    }
    throwIfAborted(signal)

    // 3. enough space
    const space = await getFreeSpace(abs)
    if (space.availableBytes < minFreeBytes) {
      return fail(abs, 'insufficient-space',
        `Storage path ${abs} has ${formatBytes(space.availableBytes)} available, ${formatBytes(minFreeBytes)} needed`)
    }
    ok = true
    return { ok: true, path: abs, availableBytes: space.availableBytes, totalBytes: space.totalBytes }
  } finally {
    if (!ok && firstCreated !== undefined) {
      await rm(firstCreated, { recursive: true, force: true }).catch((err: unknown) => { log('cannot remove %s created by the check: %e', firstCreated, err) })
    }
  }
}

/**
 * Like {@link validateStoragePath} but throws when the path is refused.
 * The error's `cause` is the failed {@link StoragePathFailure} (its `code`
 * says which check failed).
 *
 * @throws {InvalidStoragePathError}
 * @example
 * ```ts
 * const { path, availableBytes } = await assertStoragePath('/mnt/data')
 * ```
 */
export async function assertStoragePath (path: string, options: ValidateStoragePathOptions = {}): Promise<StoragePathOk> {
  const check = await validateStoragePath(path, options)
  if (!check.ok) throw new InvalidStoragePathError(check.reason, { cause: check })
  return check
}
