/**
 * Lists the drives (mounted file systems) a user could pick as a storage
 * path, with their size and free space, and measures the free space under
 * any path.
 *
 * - Linux: reads `/proc/mounts` (octal escapes such as `\040` decoded),
 *   drops pseudo and RAM-backed file systems (proc, sysfs, cgroup, tmpfs,
 *   squashfs snaps, overlay...) and system mount points (`/proc`, `/sys`,
 *   `/dev`, `/run`, `/boot`, `/snap`...), but always keeps `/` whatever its
 *   type (in a container `/` is an overlay). Bind mounts and other duplicates
 *   of the same file system (same `st_dev`) are listed once, at their
 *   shortest mount point.
 * - Windows: drive letters `A:\` to `Z:\` that answer `statfs`.
 * - macOS: `/` plus every entry of `/Volumes` (the boot volume's alias there
 *   is a duplicate of `/` and is dropped).
 *
 * Numbers come from `statfs`: `totalBytes` = blocks × bsize (df's "Size"),
 * `freeBytes` = bfree × bsize (free including the root reserve),
 * `availableBytes` = bavail × bsize (what a non-root user may use: df's
 * "Avail"). Use `availableBytes` for quotas and reserves.
 *
 * Note: `statfs` on a hung network mount can block a libuv thread; such a
 * mount is listed late or not at all, never with invented numbers.
 */
import { readFile, readdir, stat, statfs } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { throwIfAborted } from '../util/abort.js'
import { logger } from '@libp2p/logger'

const log = logger('otherthing-storage:drives')

/** One mounted file system a storage path could live on. */
export interface DriveInfo {
  /** Where it is mounted: `/`, `/mnt/data`, `D:\`, `/Volumes/USB`. */
  mountPoint: string
  /** The device or source: `/dev/sda1`, `D:`, `server:/export`. Empty when unknown. */
  device: string
  /** File system type (`ext4`, `xfs`, `overlay`...). Empty when unknown (Windows, macOS). */
  filesystem: string
  /** `true` when mounted read-only (Linux only; `false` elsewhere). */
  readOnly: boolean
  /** Size of the file system: blocks × bsize (df's "Size"). */
  totalBytes: number
  /** Free bytes, including blocks reserved for root: bfree × bsize. */
  freeBytes: number
  /** Free bytes a non-root user can use: bavail × bsize (df's "Avail"). */
  availableBytes: number
}

/** Space on the file system holding a path. */
export interface FreeSpace {
  /** The existing path that was measured (the path itself or its nearest existing ancestor). */
  path: string
  totalBytes: number
  freeBytes: number
  availableBytes: number
}

export interface ListDrivesOptions {
  signal?: AbortSignal
  /**
   * Which platform's rules to use.
   *
   * @default process.platform
   */
  platform?: NodeJS.Platform
  /**
   * The mount table to read on Linux.
   *
   * @default '/proc/mounts'
   */
  mountsFile?: string
  /**
   * Keep pseudo file systems, system mount points and zero-sized file systems
   * (duplicates of one file system are still listed once).
   *
   * @default false
   */
  includeAll?: boolean
}

/** One line of `/proc/mounts`. */
export interface MountEntry {
  device: string
  mountPoint: string
  filesystem: string
  options: string[]
}

/** File system types that never hold user data (or only RAM). */
const PSEUDO_FILESYSTEMS = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'ramfs', 'rootfs', 'cgroup', 'cgroup2', 'securityfs', 'pstore',
  'debugfs', 'tracefs', 'configfs', 'fusectl', 'mqueue', 'hugetlbfs', 'bpf', 'binfmt_misc', 'autofs', 'rpc_pipefs',
  'nsfs', 'efivarfs', 'selinuxfs', 'squashfs', 'overlay', 'aufs', 'nfsd', 'sockfs', 'pipefs', 'anon_inodefs',
  'fuse.gvfsd-fuse', 'fuse.portal', 'fuse.lxcfs', 'fuse.snapfuse', 'iso9660', 'udf', 'zram'
])

/** Mount points (and everything under them) that are the system's, not the user's. */
const SYSTEM_PREFIXES = ['/proc', '/sys', '/dev', '/run', '/boot', '/snap', '/var/snap', '/var/lib/docker', '/var/lib/containers', '/var/lib/kubelet']

function underPrefix (mountPoint: string, prefix: string): boolean {
  return mountPoint === prefix || mountPoint.startsWith(`${prefix}/`)
}

/** Decodes the octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash) of `/proc/mounts`. */
export function unescapeMountField (field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)))
}

/** Parses the text of `/proc/mounts` (or `/etc/mtab`). Malformed lines are skipped. */
export function parseProcMounts (text: string): MountEntry[] {
  const entries: MountEntry[] = []
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 4 || fields[0].startsWith('#')) continue
    entries.push({
      device: unescapeMountField(fields[0]),
      mountPoint: unescapeMountField(fields[1]),
      filesystem: unescapeMountField(fields[2]),
      options: fields[3].split(',')
    })
  }
  return entries
}

/** Whether a Linux mount can hold user data (see module docs). `/` always can. */
export function isUserMount (entry: MountEntry): boolean {
  if (entry.mountPoint === '/') return true
  if (PSEUDO_FILESYSTEMS.has(entry.filesystem)) return false
  if (entry.filesystem.startsWith('cgroup')) return false
  if (SYSTEM_PREFIXES.some(p => underPrefix(entry.mountPoint, p))) return false
  return true
}

interface Candidate { mountPoint: string, device: string, filesystem: string, readOnly: boolean }

async function linuxCandidates (options: ListDrivesOptions): Promise<Candidate[]> {
  const text = await readFile(options.mountsFile ?? '/proc/mounts', 'utf8')
  // A later mount on the same mount point hides the earlier one: keep the last
  const byMountPoint = new Map<string, MountEntry>()
  for (const entry of parseProcMounts(text)) {
    byMountPoint.delete(entry.mountPoint)
    byMountPoint.set(entry.mountPoint, entry)
  }
  return [...byMountPoint.values()]
    .filter(e => options.includeAll === true || isUserMount(e))
    .map(e => ({ mountPoint: e.mountPoint, device: e.device, filesystem: e.filesystem, readOnly: e.options.includes('ro') }))
}

function windowsCandidates (): Candidate[] {
  const out: Candidate[] = []
  for (let c = 'A'.charCodeAt(0); c <= 'Z'.charCodeAt(0); c++) {
    const letter = String.fromCharCode(c)
    out.push({ mountPoint: `${letter}:\\`, device: `${letter}:`, filesystem: '', readOnly: false })
  }
  return out
}

async function macCandidates (): Promise<Candidate[]> {
  const out: Candidate[] = [{ mountPoint: '/', device: '', filesystem: '', readOnly: false }]
  let names: string[] = []
  try {
    names = await readdir('/Volumes')
  } catch (err) {
    log('cannot list /Volumes: %e', err)
  }
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue
    out.push({ mountPoint: join('/Volumes', name), device: '', filesystem: '', readOnly: false })
  }
  return out
}

async function measure (path: string): Promise<{ totalBytes: number, freeBytes: number, availableBytes: number }> {
  const s = await statfs(path, { bigint: true })
  return {
    totalBytes: Number(s.blocks * s.bsize),
    freeBytes: Number(s.bfree * s.bsize),
    availableBytes: Number(s.bavail * s.bsize)
  }
}

/**
 * Lists the drives a storage path could be put on, `/` (or `C:\`) first,
 * then by mount point.
 *
 * @example
 * ```ts
 * for (const d of await listDrives()) {
 *   console.log(d.mountPoint, formatBytes(d.availableBytes), 'free of', formatBytes(d.totalBytes))
 * }
 * ```
 */
export async function listDrives (options: ListDrivesOptions = {}): Promise<DriveInfo[]> {
  throwIfAborted(options.signal)
  const platform = options.platform ?? process.platform
  const candidates = platform === 'win32'
    ? windowsCandidates()
    : platform === 'darwin'
      ? await macCandidates()
      : await linuxCandidates(options)

  // `/` first, then shorter mount points first, so duplicates keep the shortest
  const ordered = [...candidates].sort((a, b) =>
    (a.mountPoint === '/' ? -1 : 0) - (b.mountPoint === '/' ? -1 : 0) ||
    a.mountPoint.length - b.mountPoint.length ||
    a.mountPoint.localeCompare(b.mountPoint))

  const results = await Promise.all(ordered.map(async (c) => {
    try {
      const [st, space] = await Promise.all([stat(c.mountPoint, { bigint: true }), measure(c.mountPoint)])
      return { c, dev: st.dev, space }
    } catch (err) {
      log('skipping %s: %e', c.mountPoint, err)
      return undefined // unreadable, absent drive letter, stale network mount...
    }
  }))
  throwIfAborted(options.signal)

  const seen = new Set<bigint>()
  const drives: DriveInfo[] = []
  for (const r of results) {
    if (r === undefined) continue
    if (seen.has(r.dev)) continue
    if (options.includeAll !== true && r.space.totalBytes === 0 && r.c.mountPoint !== '/') continue
    seen.add(r.dev)
    drives.push({ ...r.c, ...r.space })
  }
  return drives.sort((a, b) =>
    (a.mountPoint === '/' ? -1 : 0) - (b.mountPoint === '/' ? -1 : 0) || a.mountPoint.localeCompare(b.mountPoint))
}

/**
 * Size and free space of the file system that holds `path`. When `path` does
 * not exist yet, its nearest existing ancestor is measured (that is where it
 * would be created).
 *
 * @example
 * ```ts
 * const { availableBytes } = await getFreeSpace('/mnt/data/not-yet-created')
 * ```
 */
export async function getFreeSpace (path: string, options: { signal?: AbortSignal } = {}): Promise<FreeSpace> {
  throwIfAborted(options.signal)
  let current = resolve(path)
  for (;;) {
    try {
      return { path: current, ...await measure(current) }
    } catch (err: any) {
      const parent = dirname(current)
      if ((err?.code !== 'ENOENT' && err?.code !== 'ENOTDIR') || parent === current) throw err
      current = parent
    }
  }
}
