/**
 * Picks the storage path: the one the user selected when it passes
 * {@link validateStoragePath}, otherwise the platform's per-user app-data
 * folder (the seed plan's "user-selected drive with validation, fallback to
 * app data").
 */
import { homedir } from 'node:os'
import { posix, win32 } from 'node:path'
import { InvalidStoragePathError } from '../errors.js'
import { validateStoragePath } from './validate.js'
import type { StoragePathFailureCode } from './validate.js'
import { throwIfAborted } from '../util/abort.js'

/** Name of the app's folder inside the platform app-data folder. */
export const APP_DIR_NAME = 'otherthing'

/**
 * The per-user app-data folder of otherthing:
 * - Linux and other Unix: `$XDG_DATA_HOME/otherthing`, or `~/.local/share/otherthing`
 *   when `XDG_DATA_HOME` is unset or not absolute (as the XDG spec says);
 * - Windows: `%APPDATA%\otherthing` (or `%USERPROFILE%\AppData\Roaming\otherthing`);
 * - macOS: `~/Library/Application Support/otherthing`.
 *
 * `~` is `$HOME` from `env` (on Windows `%USERPROFILE%`), else `os.homedir()`.
 *
 * @example
 * ```ts
 * defaultAppDataDir('linux', { HOME: '/home/ann' })   // '/home/ann/.local/share/otherthing'
 * defaultAppDataDir('win32', { APPDATA: 'C:\\Users\\ann\\AppData\\Roaming' })
 * // 'C:\\Users\\ann\\AppData\\Roaming\\otherthing'
 * ```
 */
export function defaultAppDataDir (platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  const set = (v: string | undefined): v is string => typeof v === 'string' && v.length > 0
  if (platform === 'win32') {
    if (set(env.APPDATA) && win32.isAbsolute(env.APPDATA)) return win32.join(env.APPDATA, APP_DIR_NAME)
    const home = set(env.USERPROFILE) ? env.USERPROFILE : homedir()
    return win32.join(home, 'AppData', 'Roaming', APP_DIR_NAME)
  }
  const home = set(env.HOME) ? env.HOME : homedir()
  if (platform === 'darwin') return posix.join(home, 'Library', 'Application Support', APP_DIR_NAME)
  if (set(env.XDG_DATA_HOME) && posix.isAbsolute(env.XDG_DATA_HOME)) return posix.join(env.XDG_DATA_HOME, APP_DIR_NAME)
  return posix.join(home, '.local', 'share', APP_DIR_NAME)
}

export interface ResolveStorageRootInit {
  /** The path the user chose (e.g. from node-config.json or the drive picker). */
  selectedPath?: string
  /**
   * Where to fall back to.
   *
   * @default defaultAppDataDir(platform, env)
   */
  appDataDir?: string
  /**
   * Bytes that must be available on the chosen path's file system (both the
   * selected path and the fallback are held to it).
   *
   * @default 0
   */
  minFreeBytes?: number
  /** @default process.platform */
  platform?: NodeJS.Platform
  /** @default process.env */
  env?: NodeJS.ProcessEnv
  signal?: AbortSignal
}

export interface ResolvedStorageRoot {
  /** Absolute path to pass to `createStorageLayout()`. */
  storagePath: string
  /** `true` when the app-data folder is used instead of a selected path. */
  fellBack: boolean
  /** Why it fell back (a sentence for people). Set only when `fellBack`. */
  reason?: string
  /** Which check the selected path failed; absent when no path was selected or no fallback happened. */
  code?: StoragePathFailureCode
}

/**
 * Returns the selected path when it is usable, otherwise the app-data
 * folder, saying why. Directories are created as needed.
 *
 * @throws {InvalidStoragePathError} when neither is usable (`cause` is the fallback's failed check)
 * @example
 * ```ts
 * const { storagePath, fellBack, reason } = await resolveStorageRoot({ selectedPath: '/mnt/data' })
 * if (fellBack) log.warn(`using ${storagePath}: ${reason}`)
 * const layout = createStorageLayout(storagePath)
 * ```
 */
export async function resolveStorageRoot (init: ResolveStorageRootInit = {}): Promise<ResolvedStorageRoot> {
  const { selectedPath, minFreeBytes = 0, signal } = init
  throwIfAborted(signal)

  let reason = 'no storage path was selected'
  let code: StoragePathFailureCode | undefined
  if (selectedPath !== undefined && selectedPath !== '') {
    const check = await validateStoragePath(selectedPath, { minFreeBytes, signal })
    if (check.ok) return { storagePath: check.path, fellBack: false }
    reason = check.reason
    code = check.code
  }

  const fallbackPath = init.appDataDir ?? defaultAppDataDir(init.platform, init.env)
  const fallback = await validateStoragePath(fallbackPath, { minFreeBytes, signal })
  if (!fallback.ok) {
    throw new InvalidStoragePathError(`No usable storage path: ${reason}; app-data fallback refused too: ${fallback.reason}`, { cause: fallback })
  }
  return { storagePath: fallback.path, fellBack: true, reason, ...(code !== undefined ? { code } : {}) }
}
