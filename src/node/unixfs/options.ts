/**
 * Options of folder imports, read the way Kubo's `ipfs add` reads its flags,
 * and the types addAll / addDirectory take and give.
 */
import { InvalidArgumentError } from '../../errors.js'
import { layoutFor } from '../import/index.js'
import type { FileLayout } from '../import/index.js'
import type { AddOptions } from '../options.js'
import type { CID } from 'multiformats/cid'

/** One entry given to `addAll`. */
export interface AddAllEntry {
  /** Relative, '/'-separated; a trailing '/' or no `content` (and no `link`) is a directory. No '..'. */
  path: string
  content?: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array
  /** A symlink to this target (stored as a UnixFS symlink). */
  link?: string
  mode?: number
  mtime?: { secs: bigint | number, nsecs?: number }
}

export type AddedEntryType = 'file' | 'directory' | 'symlink'

/** One file, directory or symlink added, in the order Kubo reports them (the root last). */
export interface AddedEntry {
  /** Path as given (no leading '/'); '' for the wrapping directory of `wrapWithDirectory`. */
  path: string
  cid: CID
  /** Content bytes: a file's size; for a directory, the bytes of all files under it. */
  size: number
  /** Bytes of all blocks of the entry's DAG (the Tsize Kubo reports as `Size`). */
  dagSize: number
  type: AddedEntryType
}

export interface AddAllOptions extends AddOptions {
  /** Wrap everything in one more directory (whose entry has path ''). @default false */
  wrapWithDirectory?: boolean
  /** addDirectory: include files and folders whose name starts with '.'. @default false (as Kubo) */
  hidden?: boolean
  /** addDirectory: `'store'` keeps a symlink as a UnixFS symlink, `'refuse'` throws SymlinkNotAllowedError. @default 'store' */
  symlinks?: 'store' | 'refuse'
  /** Called with each entry as it is added (the same ones addAll yields). */
  onEntry?: (entry: AddedEntry) => void
  /**
   * Files imported at once.
   *
   * @default 32
   */
  fileConcurrency?: number
}

/** Which IPIP-499 profile the importer builds directories with. */
export type CidProfileName = 'unixfs-v0-2015' | 'unixfs-v1-2025'

export interface FolderLayout {
  file: FileLayout
  profile: CidProfileName
}

/**
 * The layout of a folder import. As in Kubo, `cidVersion: 1` implies raw
 * leaves unless `rawLeaves: false` is given.
 */
export function folderLayout (options: AddAllOptions = {}): FolderLayout {
  if (options.profile != null && options.profile !== 'kubo' && options.profile !== 'cidv1') {
    throw new InvalidArgumentError(`Unknown profile ${String(options.profile)}`)
  }
  for (const name of ['chunkSize', 'maxChildrenPerNode', 'fileConcurrency'] as const) {
    const v = options[name]
    if (v != null && (!Number.isSafeInteger(v) || v <= 0)) throw new InvalidArgumentError(`${name} must be a positive integer`)
  }
  if (options.cidVersion != null && options.cidVersion !== 0 && options.cidVersion !== 1) throw new InvalidArgumentError('cidVersion must be 0 or 1')
  if (options.symlinks != null && options.symlinks !== 'store' && options.symlinks !== 'refuse') throw new InvalidArgumentError('symlinks must be "store" or "refuse"')
  const rawLeaves = options.rawLeaves ?? (options.cidVersion === 1 ? true : undefined)
  const file = layoutFor({ ...options, rawLeaves })
  return { file, profile: (options.profile ?? 'kubo') === 'kubo' ? 'unixfs-v0-2015' : 'unixfs-v1-2025' }
}

/**
 * Checks and normalises an entry path: '/' separators, no leading '/' or './',
 * no empty, '.' or '..' names. Returns the path and whether it names a directory.
 */
export function normalisePath (path: unknown): { path: string, dir: boolean } {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('An entry needs a path')
  if (path.includes('\0')) throw new InvalidArgumentError('A path may not contain NUL')
  const dir = path.endsWith('/')
  const names = path.split('/').filter(n => n !== '' && n !== '.')
  if (names.includes('..')) throw new InvalidArgumentError(`A path may not contain "..": ${JSON.stringify(path.slice(0, 200))}`)
  if (names.length === 0) throw new InvalidArgumentError(`Empty path: ${JSON.stringify(path.slice(0, 200))}`)
  return { path: names.join('/'), dir }
}
