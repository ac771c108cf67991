import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm, stat, mkdir, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStorageLayout, STORAGE_DIR_NAME } from '../src/storage/layout.js'

describe('storage layout', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ots-layout-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('computes the seed layout', () => {
    const layout = createStorageLayout(dir)
    const root = join(dir, STORAGE_DIR_NAME)
    expect(layout.storagePath).toBe(dir)
    expect(layout.root).toBe(root)
    expect(layout.ipfsDir).toBe(join(root, 'ipfs'))
    expect(layout.configPath).toBe(join(root, 'node-config.json'))
    expect(layout.ledgerPath).toBe(join(root, 'ipfs', 'quota-ledger.json'))
    expect(layout.workspaceRepo('ws1')).toEqual({
      root: join(root, 'ipfs', 'workspaces', 'ws1'),
      blocks: join(root, 'ipfs', 'workspaces', 'ws1', 'blocks'),
      datastore: join(root, 'ipfs', 'workspaces', 'ws1', 'datastore')
    })
    expect(layout.workspaceDirs('ws1')).toEqual({
      root: join(root, 'workspace-ws1'),
      cache: join(root, 'workspace-ws1', 'cache'),
      working: join(root, 'workspace-ws1', 'working')
    })
  })

  it('makes a relative storage path absolute', () => {
    expect(createStorageLayout('rel').storagePath).toBe(join(process.cwd(), 'rel'))
  })

  it('validates workspace ids before touching the disk', async () => {
    const layout = createStorageLayout(dir)
    for (const bad of ['../x', 'a/b', '..', '']) {
      expect(() => layout.workspaceRepo(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_WORKSPACE_ID' }))
      expect(() => layout.workspaceDirs(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_WORKSPACE_ID' }))
      await expect(layout.ensureWorkspace(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_WORKSPACE_ID' })
      await expect(layout.removeWorkspace(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_WORKSPACE_ID' })
    }
    expect(await readdir(dir)).toEqual([])
  })

  it('creates, lists and removes workspaces', async () => {
    const layout = createStorageLayout(join(dir, 'deep', 'er'))
    expect(await layout.listWorkspaceRepos()).toEqual([])
    await layout.ensure()
    expect((await stat(layout.ipfsDir)).isDirectory()).toBe(true)
    expect(await layout.listWorkspaceRepos()).toEqual([])

    const { repo, dirs } = await layout.ensureWorkspace('beta')
    await layout.ensureWorkspace('alpha')
    await layout.ensureWorkspace('alpha') // idempotent
    for (const p of [repo.blocks, repo.datastore, dirs.cache, dirs.working]) {
      expect((await stat(p)).isDirectory()).toBe(true)
    }
    // junk in the workspaces dir is ignored
    await mkdir(join(layout.ipfsDir, 'workspaces', '.tmp'))
    await writeFile(join(layout.ipfsDir, 'workspaces', 'file'), 'x')
    expect(await layout.listWorkspaceRepos()).toEqual(['alpha', 'beta'])

    await writeFile(join(repo.blocks, 'blk'), 'data')
    await layout.removeWorkspace('beta')
    await expect(stat(repo.root)).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(stat(dirs.root)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await layout.listWorkspaceRepos()).toEqual(['alpha'])
    await layout.removeWorkspace('beta') // already gone: no error
  })

  it('honours an aborted signal', async () => {
    const layout = createStorageLayout(dir)
    const signal = AbortSignal.abort()
    await expect(layout.ensure({ signal })).rejects.toThrow()
    expect(await readdir(dir)).toEqual([])
  })
})
