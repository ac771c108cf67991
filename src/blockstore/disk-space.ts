import fs from 'node:fs/promises'
import { DiskReserveError } from '../errors.js'

/** What `fs.promises.statfs` returns that we use. */
export interface StatFsResult {
  /** Block size in bytes. */
  bsize: number
  /** Total blocks on the drive. */
  blocks: number
  /** Blocks available to unprivileged users. */
  bavail: number
}

export type StatFsFn = (path: string) => Promise<StatFsResult>

/** Bytes to keep free on a drive of `totalBytes`: 1% or 512 MiB, whichever is smaller. */
export function defaultReserveBytes (totalBytes: number): number {
  return Math.min(Math.floor(totalBytes / 100), 512 * 1024 * 1024)
}

export interface DiskGuardInit {
  /** Directory on the drive to watch. */
  path: string
  /** @default defaultReserveBytes */
  reserveBytes?: number | ((totalBytes: number) => number)
  /** @default fs.promises.statfs */
  statfs?: StatFsFn
  /** How long a statfs result is trusted, in ms. @default 1000 */
  cacheMs?: number
  /** The clock `cacheMs` is measured on, ms. @default performance.now */
  now?: () => number
}

/**
 * Tracks the real free space of one drive, refusing writes that would take it below the
 * reserve (Syncthing's minDiskFree). statfs is called at most once per `cacheMs`; bytes written
 * (or reserved for writing) since the last call are subtracted from what it reported.
 */
export interface DiskGuard {
  readonly path: string
  /** Make sure the cached statfs result is fresh enough. Cheap when it is. */
  refresh(): Promise<void>
  /** Throw DiskReserveError if `bytes` more would take free space below the reserve; otherwise reserve them. */
  reserve(bytes: number, requested?: number): void
  /** Bytes reserved earlier were written. */
  commit(bytes: number): void
  /** Bytes reserved earlier were not written. */
  release(bytes: number): void
  /** Bytes were deleted from the drive. */
  freed(bytes: number): void
  /** Free bytes as far as the guard knows (statfs minus writes since), and the reserve. */
  status(): { free: number, reserve: number, total: number }
}

const defaultStatfs: StatFsFn = async (path) => fs.statfs(path)

class DefaultDiskGuard implements DiskGuard {
  readonly path: string
  private readonly reserveBytes: number | ((totalBytes: number) => number)
  private readonly statfs: StatFsFn
  private readonly cacheMs: number
  private readonly now: () => number
  private free = Infinity
  private total = 0
  private reserveValue = 0
  private checkedAt = -Infinity
  /** bytes committed since the statfs call started */
  private written = 0
  /** bytes reserved but not yet committed or released */
  private pending = 0
  private refreshing?: Promise<void>

  constructor (init: DiskGuardInit) {
    this.path = init.path
    this.reserveBytes = init.reserveBytes ?? defaultReserveBytes
    this.statfs = init.statfs ?? defaultStatfs
    this.cacheMs = init.cacheMs ?? 1000
    this.now = init.now ?? (() => performance.now())
  }

  async refresh (): Promise<void> {
    if (this.now() - this.checkedAt < this.cacheMs) {
      return
    }
    this.refreshing ??= this.doRefresh().finally(() => { this.refreshing = undefined })
    await this.refreshing
  }

  private async doRefresh (): Promise<void> {
    const writtenBefore = this.written
    const startedAt = this.now()
    const st = await this.statfs(this.path)
    this.total = Number(st.blocks) * Number(st.bsize)
    this.free = Number(st.bavail) * Number(st.bsize)
    this.reserveValue = typeof this.reserveBytes === 'function' ? this.reserveBytes(this.total) : this.reserveBytes
    // writes committed while statfs ran may or may not be in its answer: count them again (safe side)
    this.written -= writtenBefore
    this.checkedAt = startedAt
  }

  private available (): number {
    return this.free - this.written - this.pending
  }

  reserve (bytes: number, requested = bytes): void {
    const free = this.available()
    if (free - bytes < this.reserveValue) {
      throw new DiskReserveError(Math.max(0, free), this.reserveValue, requested)
    }
    this.pending += bytes
  }

  commit (bytes: number): void {
    this.pending -= bytes
    this.written += bytes
  }

  release (bytes: number): void {
    this.pending -= bytes
  }

  freed (bytes: number): void {
    this.written -= bytes
  }

  status (): { free: number, reserve: number, total: number } {
    return { free: Math.max(0, this.available()), reserve: this.reserveValue, total: this.total }
  }
}

export function createDiskGuard (init: DiskGuardInit): DiskGuard {
  return new DefaultDiskGuard(init)
}
