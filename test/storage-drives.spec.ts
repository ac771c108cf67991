import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listDrives, getFreeSpace, parseProcMounts, isUserMount } from '../src/storage/drives.js'

const isLinux = process.platform === 'linux'

function df (path: string): { size: number, avail: number } {
  const out = execFileSync('df', ['-B1', '--output=size,avail', path], { encoding: 'utf8' })
  const [size, avail] = out.trim().split('\n')[1].trim().split(/\s+/).map(Number)
  return { size, avail }
}

describe('parseProcMounts', () => {
  it('decodes octal escapes and splits options', () => {
    const entries = parseProcMounts([
      '/dev/sdb1 /media/my\\040disk ext4 rw,relatime 0 0',
      'server:/x /mnt/tab\\011and\\134slash nfs4 ro 0 0',
      '',
      'garbage'
    ].join('\n'))
    expect(entries).toEqual([
      { device: '/dev/sdb1', mountPoint: '/media/my disk', filesystem: 'ext4', options: ['rw', 'relatime'] },
      { device: 'server:/x', mountPoint: '/mnt/tab\tand\\slash', filesystem: 'nfs4', options: ['ro'] }
    ])
  })

  it('keeps / whatever its type and drops pseudo and system mounts', () => {
    const m = (mountPoint: string, filesystem: string) => ({ device: 'x', mountPoint, filesystem, options: ['rw'] })
    expect(isUserMount(m('/', 'overlay'))).toBe(true)
    expect(isUserMount(m('/', 'tmpfs'))).toBe(true)
    expect(isUserMount(m('/mnt/data', 'ext4'))).toBe(true)
    expect(isUserMount(m('/home', 'btrfs'))).toBe(true)
    expect(isUserMount(m('/srv/share', 'nfs4'))).toBe(true)
    for (const [mp, fs] of [['/proc', 'proc'], ['/sys', 'sysfs'], ['/dev', 'devtmpfs'], ['/dev/shm', 'tmpfs'],
      ['/sys/fs/cgroup/cpu', 'cgroup'], ['/sys/fs/cgroup/unified', 'cgroup2'], ['/snap/core/1', 'squashfs'],
      ['/var/lib/docker/overlay2/a/merged', 'overlay'], ['/boot/efi', 'vfat'], ['/run/user/1000', 'tmpfs'],
      ['/mnt/over', 'overlay'], ['/media/cd', 'iso9660']]) {
      expect(isUserMount(m(mp, fs)), `${mp} ${fs}`).toBe(false)
    }
  })
})

describe.runIf(isLinux)('listDrives (linux)', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'ots-drives-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('lists / first with the numbers df shows', async () => {
    const drives = await listDrives()
    expect(drives.length).toBeGreaterThan(0)
    const root = drives[0]
    expect(root.mountPoint).toBe('/')
    const expected = df('/')
    expect(root.totalBytes).toBe(expected.size)
    expect(Math.abs(root.availableBytes - expected.avail)).toBeLessThan(256 * 1024 * 1024)
    expect(root.freeBytes).toBeGreaterThanOrEqual(root.availableBytes)
    expect(root.filesystem).not.toBe('')
    for (const d of drives) {
      expect(d.totalBytes).toBeGreaterThan(0)
      expect(['proc', 'sysfs', 'cgroup', 'cgroup2', 'devtmpfs', 'devpts'].includes(d.filesystem)).toBe(false)
    }
    // one entry per file system
    const devs = await Promise.all(drives.map(async d => (await stat(d.mountPoint)).dev))
    expect(new Set(devs).size).toBe(devs.length)
  })

  it('lists a file system once even when bind-mounted elsewhere, at its shortest mount point', async () => {
    const mounts = join(dir, 'mounts')
    const bind = join(dir, 'bind me')
    await mkdir(bind)
    await writeFile(mounts, [
      `/dev/vdz ${bind.replace(/ /g, '\\040')} ext4 rw 0 0`,
      'proc /proc proc rw 0 0',
      '/dev/vdz / ext4 rw 0 0'
    ].join('\n'))
    const drives = await listDrives({ mountsFile: mounts })
    // `bind` is on the same file system as `/` here
    expect(drives.map(d => d.mountPoint)).toEqual(['/'])
    expect(drives[0].device).toBe('/dev/vdz')
  })

  it('decodes escaped mount points of a real mount, and skips tmpfs unless includeAll', async (ctx) => {
    const target = join(dir, 'my disk')
    await mkdir(target, { recursive: true })
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'otstest', target], { stdio: 'pipe' })
    } catch (err: any) {
      ctx.skip(`cannot mount tmpfs here (needs root and CAP_SYS_ADMIN): ${String(err?.stderr ?? err).trim()}`)
    }
    try {
      const all = await listDrives({ includeAll: true })
      const mine = all.find(d => d.mountPoint === target)
      expect(mine).toMatchObject({ device: 'otstest', filesystem: 'tmpfs', totalBytes: 1024 * 1024, readOnly: false })
      expect((await listDrives()).some(d => d.mountPoint === target)).toBe(false)
    } finally {
      execFileSync('umount', [target])
    }
  })
})

describe('getFreeSpace', () => {
  it('measures the nearest existing ancestor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ots-free-'))
    try {
      const file = join(dir, 'file')
      await writeFile(file, 'x')
      const deep = await getFreeSpace(join(dir, 'not', 'yet', 'there'))
      expect(deep.path).toBe(dir)
      expect(deep.totalBytes).toBeGreaterThan(0)
      expect(deep.freeBytes).toBeGreaterThanOrEqual(deep.availableBytes)
      const under = await getFreeSpace(join(file, 'child'))
      expect(under.path).toBe(file)
      if (isLinux) {
        const expected = df(dir)
        expect(deep.totalBytes).toBe(expected.size)
        expect(Math.abs(deep.availableBytes - expected.avail)).toBeLessThan(256 * 1024 * 1024)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('honours an aborted signal', async () => {
    await expect(getFreeSpace('/', { signal: AbortSignal.abort() })).rejects.toThrow()
    await expect(listDrives({ signal: AbortSignal.abort() })).rejects.toThrow()
  })
})
