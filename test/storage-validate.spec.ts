import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtemp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateStoragePath, assertStoragePath } from '../src/storage/validate.js'

describe('validateStoragePath', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ots-validate-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('accepts an existing writable directory and leaves no probe file', async () => {
    const check = await validateStoragePath(dir)
    expect(check).toMatchObject({ ok: true, path: dir })
    if (check.ok) {
      expect(check.availableBytes).toBeGreaterThan(0)
      expect(check.totalBytes).toBeGreaterThanOrEqual(check.availableBytes)
    }
    expect(await readdir(dir)).toEqual([])
  })

  it('creates a missing directory and keeps it on success', async () => {
    const target = join(dir, 'a', 'b', 'c')
    const check = await validateStoragePath(target + '/')
    expect(check).toMatchObject({ ok: true, path: target })
    expect((await stat(target)).isDirectory()).toBe(true)
    expect(await readdir(target)).toEqual([])
  })

  it('refuses a relative path', async () => {
    for (const p of ['rel/path', '', './x', '~/data']) {
      expect(await validateStoragePath(p)).toMatchObject({ ok: false, code: 'not-absolute' })
    }
  })

  it('refuses a regular file and a path under one', async () => {
    const file = join(dir, 'file')
    await writeFile(file, 'x')
    expect(await validateStoragePath(file)).toMatchObject({ ok: false, code: 'not-directory', path: file })
    expect(await validateStoragePath(join(file, 'sub', 'dir'))).toMatchObject({ ok: false, code: 'not-directory' })
    expect(await validateStoragePath(join(file, 'sub'), { create: false })).toMatchObject({ ok: false, code: 'not-directory' })
  })

  it('refuses a missing path when create is false', async () => {
    const target = join(dir, 'missing')
    expect(await validateStoragePath(target, { create: false })).toMatchObject({ ok: false, code: 'cannot-create' })
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses when there is not enough free space, removing what it created', async () => {
    const target = join(dir, 'x', 'y')
    const check = await validateStoragePath(target, { minFreeBytes: Number.MAX_SAFE_INTEGER })
    expect(check).toMatchObject({ ok: false, code: 'insufficient-space', path: target })
    expect(await readdir(dir)).toEqual([])
    // an existing directory is never removed
    expect(await validateStoragePath(dir, { minFreeBytes: Number.MAX_SAFE_INTEGER })).toMatchObject({ ok: false, code: 'insufficient-space' })
    expect((await stat(dir)).isDirectory()).toBe(true)
  })

  it('refuses a read-only mount (not-writable, cannot-create)', async (ctx) => {
    const ro = join(dir, 'ro')
    await mkdir(ro)
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro], { stdio: 'pipe' })
    } catch (err: any) {
      ctx.skip(`cannot mount a read-only tmpfs here (needs root and CAP_SYS_ADMIN): ${String(err?.stderr ?? err).trim()}`)
    }
    try {
      expect(await validateStoragePath(ro)).toMatchObject({ ok: false, code: 'not-writable', path: ro })
      expect(await validateStoragePath(join(ro, 'sub'))).toMatchObject({ ok: false, code: 'cannot-create' })
    } finally {
      execFileSync('umount', [ro])
    }
  })

  it('honours an aborted signal', async () => {
    await expect(validateStoragePath(dir, { signal: AbortSignal.abort() })).rejects.toThrow()
  })
})

describe('assertStoragePath', () => {
  it('returns the check or throws InvalidStoragePathError with the check as cause', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ots-assert-'))
    try {
      expect(await assertStoragePath(dir)).toMatchObject({ ok: true, path: dir })
      let caught: any
      try { await assertStoragePath(dir, { minFreeBytes: Number.MAX_SAFE_INTEGER }) } catch (err) { caught = err }
      expect(caught?.name).toBe('InvalidStoragePathError')
      expect(caught?.code).toBe('ERR_INVALID_STORAGE_PATH')
      expect(caught?.cause).toMatchObject({ ok: false, code: 'insufficient-space' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
