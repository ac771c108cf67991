import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultAppDataDir, resolveStorageRoot } from '../src/storage/app-data.js'

describe('defaultAppDataDir', () => {
  it('follows each platform convention', () => {
    expect(defaultAppDataDir('linux', { HOME: '/home/ann' })).toBe('/home/ann/.local/share/otherthing')
    expect(defaultAppDataDir('linux', { HOME: '/home/ann', XDG_DATA_HOME: '/data/xdg' })).toBe('/data/xdg/otherthing')
    expect(defaultAppDataDir('linux', { HOME: '/home/ann', XDG_DATA_HOME: 'relative' })).toBe('/home/ann/.local/share/otherthing')
    expect(defaultAppDataDir('freebsd', { HOME: '/home/ann', XDG_DATA_HOME: '' })).toBe('/home/ann/.local/share/otherthing')
    expect(defaultAppDataDir('darwin', { HOME: '/Users/ann' })).toBe('/Users/ann/Library/Application Support/otherthing')
    expect(defaultAppDataDir('win32', { APPDATA: 'C:\\Users\\ann\\AppData\\Roaming' })).toBe('C:\\Users\\ann\\AppData\\Roaming\\otherthing')
    expect(defaultAppDataDir('win32', { USERPROFILE: 'C:\\Users\\ann' })).toBe('C:\\Users\\ann\\AppData\\Roaming\\otherthing')
  })

  it('defaults to this process', () => {
    expect(defaultAppDataDir()).toBe(defaultAppDataDir(process.platform, process.env))
    expect(defaultAppDataDir().endsWith('otherthing')).toBe(true)
  })
})

describe('resolveStorageRoot', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ots-appdata-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('uses a valid selected path', async () => {
    const selected = join(dir, 'chosen')
    const r = await resolveStorageRoot({ selectedPath: selected, appDataDir: join(dir, 'appdata') })
    expect(r).toEqual({ storagePath: selected, fellBack: false })
    await expect(stat(join(dir, 'appdata'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('falls back to app data when the selected path is unusable, saying why', async () => {
    const file = join(dir, 'file')
    await writeFile(file, 'x')
    const appDataDir = join(dir, 'appdata')
    const r = await resolveStorageRoot({ selectedPath: join(file, 'sub'), appDataDir })
    expect(r).toMatchObject({ storagePath: appDataDir, fellBack: true, code: 'not-directory' })
    expect(r.reason).toContain(file)
    expect((await stat(appDataDir)).isDirectory()).toBe(true)

    const r2 = await resolveStorageRoot({ selectedPath: 'relative/path', appDataDir })
    expect(r2).toMatchObject({ storagePath: appDataDir, fellBack: true, code: 'not-absolute' })
  })

  it('falls back to the platform folder from env when nothing is selected', async () => {
    const r = await resolveStorageRoot({ platform: 'linux', env: { HOME: dir, XDG_DATA_HOME: join(dir, 'xdg') } })
    expect(r.storagePath).toBe(join(dir, 'xdg', 'otherthing'))
    expect(r.fellBack).toBe(true)
    expect(typeof r.reason).toBe('string')
    expect(r.code).toBeUndefined()
  })

  it('throws InvalidStoragePathError when the fallback is unusable too', async () => {
    let caught: any
    try {
      await resolveStorageRoot({ selectedPath: join(dir, 'a'), appDataDir: join(dir, 'b'), minFreeBytes: Number.MAX_SAFE_INTEGER })
    } catch (err) { caught = err }
    expect(caught?.code).toBe('ERR_INVALID_STORAGE_PATH')
    expect(caught?.cause).toMatchObject({ ok: false, code: 'insufficient-space' })
  })
})
