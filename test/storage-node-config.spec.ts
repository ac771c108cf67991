import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  readNodeConfig, writeNodeConfig, defaultNodeConfig, validateNodeConfig, DEFAULT_QUOTA_BYTES, type NodeConfig
} from '../src/storage/node-config.js'
import { defaultAppDataDir } from '../src/storage/app-data.js'

async function catchErr (p: Promise<unknown> | (() => unknown)): Promise<any> {
  try {
    if (typeof p === 'function') p()
    else await p
  } catch (err) { return err }
  return undefined
}

describe('node-config.json', () => {
  let dir: string
  let path: string
  let config: NodeConfig
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ots-config-'))
    path = join(dir, 'otherthing-storage', 'node-config.json')
    config = defaultNodeConfig({
      storagePath: dir,
      apiToken: 'api-secret-token',
      orchestratorUrl: 'wss://orch.example/ws',
      orchestratorToken: 'orch-secret-token',
      workspaces: ['alpha', 'beta']
    })
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('has sane defaults', () => {
    expect(defaultNodeConfig()).toEqual({
      version: 1,
      nodeName: hostname(),
      storagePath: defaultAppDataDir(),
      quotaBytes: DEFAULT_QUOTA_BYTES,
      apiHost: '127.0.0.1',
      apiPort: 5080,
      workspaces: []
    })
    expect(DEFAULT_QUOTA_BYTES).toBe(10 * 1024 ** 3)
    expect(defaultNodeConfig({ nodeName: 'n1', apiToken: undefined })).not.toHaveProperty('apiToken')
  })

  it('returns undefined when the file does not exist', async () => {
    expect(await readNodeConfig(path)).toBeUndefined()
  })

  it('round-trips, creating the directory, with mode 0600', async () => {
    await writeNodeConfig(path, config)
    expect(await readNodeConfig(path)).toEqual(config)
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('replaces atomically and leaves no temp files', async () => {
    await writeNodeConfig(path, config)
    await writeNodeConfig(path, { ...config, nodeName: 'second' })
    expect((await readNodeConfig(path))?.nodeName).toBe('second')
    // concurrent writers: the file is always one whole version
    const names = Array.from({ length: 20 }, (_, i) => `node-${i}`)
    await Promise.all(names.map(async nodeName => await writeNodeConfig(path, { ...config, nodeName })))
    expect(names).toContain((await readNodeConfig(path))?.nodeName)
    expect(await readdir(join(dir, 'otherthing-storage'))).toEqual(['node-config.json'])
  })

  it('writes nothing when the config is invalid', async () => {
    const err = await catchErr(writeNodeConfig(path, { ...config, apiPort: 70000 }))
    expect(err?.code).toBe('ERR_INVALID_CONFIG')
    expect(err?.name).toBe('InvalidConfigError')
    expect(await readNodeConfig(path)).toBeUndefined()
  })

  it('reports a corrupt file with InvalidConfigError, never resetting it', async () => {
    await writeNodeConfig(path, config)
    const corrupt = '{ "version": 1, "apiToken": "api-secret-token", '
    await writeFile(path, corrupt)
    for (const text of [corrupt, '', 'null', '[]', '"x"']) {
      await writeFile(path, text)
      const err = await catchErr(readNodeConfig(path))
      expect(err?.code, JSON.stringify(text)).toBe('ERR_INVALID_CONFIG')
      expect(String(err?.message)).not.toContain('api-secret-token')
      expect(await readFile(path, 'utf8')).toBe(text) // untouched
    }
  })

  it('refuses unknown keys such as a swarm key, without echoing values', async () => {
    const swarmKey = '/key/swarm/psk/1.0.0/\n/base16/\n' + 'ab'.repeat(32)
    await writeNodeConfig(path, config)
    await writeFile(path, JSON.stringify({ ...config, swarmKey }))
    const err = await catchErr(readNodeConfig(path))
    expect(err?.code).toBe('ERR_INVALID_CONFIG')
    expect(String(err?.message)).not.toContain('ab'.repeat(32))
    const err2 = await catchErr(writeNodeConfig(path, { ...config, swarmKey } as any))
    expect(err2?.code).toBe('ERR_INVALID_CONFIG')
    const err3 = await catchErr(() => defaultNodeConfig({ swarmKey } as any))
    expect(err3?.code).toBe('ERR_INVALID_CONFIG')
  })

  it('refuses bad fields', () => {
    const bad: Array<Partial<Record<keyof NodeConfig, unknown>>> = [
      { version: 2 }, { nodeName: '' }, { storagePath: 'relative' }, { quotaBytes: -1 }, { quotaBytes: 1.5 },
      { quotaBytes: '10GB' }, { apiPort: 65536 }, { apiPort: '5080' }, { apiHost: '' }, { apiToken: '' },
      { orchestratorUrl: 'not a url' }, { orchestratorUrl: 'ftp://x' }, { workspaces: ['../x'] },
      { workspaces: ['a', 'a'] }, { workspaces: 'alpha' }
    ]
    for (const patch of bad) {
      const err = (() => { try { validateNodeConfig({ ...config, ...patch }) } catch (e) { return e as any } })()
      expect(err?.code, JSON.stringify(patch)).toBe('ERR_INVALID_CONFIG')
    }
    for (const missing of ['version', 'nodeName', 'storagePath', 'quotaBytes', 'apiHost', 'apiPort', 'workspaces']) {
      const copy: any = { ...config }
      delete copy[missing]
      expect(() => validateNodeConfig(copy)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    }
  })
})
