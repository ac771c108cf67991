/**
 * One runner per storage path: a second runner (in this process or another
 * one) is refused with StoragePathLockedError naming the holder; a stale lock
 * of a dead process is taken over.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startNodeRunner } from '../src/runner/node-runner.js'
import type { NodeRunner } from '../src/runner/node-runner.js'
import { acquireStorageLock } from '../src/storage/lock.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'

const BIN = fileURLToPath(new URL('../bin/otherthing-storage.js', import.meta.url))

describe('storage path lock', () => {
  let dir: string
  let storagePath: string
  let lockPath: string
  const runners: NodeRunner[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-lock-'))
    storagePath = join(dir, 'storage')
    lockPath = join(storagePath, 'otherthing-storage', '.lock')
  })

  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function start (): Promise<NodeRunner> {
    const r = await startNodeRunner({ storagePath, appDataDir: join(dir, 'app'), apiPort: 0, quota: '32MiB' })
    runners.push(r)
    return r
  }

  it('refuses a second runner in the same process, naming the holder; free again after stop', async () => {
    const first = await start()
    const lock = JSON.parse(await readFile(lockPath, 'utf8'))
    expect(lock).toMatchObject({ pid: process.pid, hostname: hostname(), startedAt: expect.any(String) })
    const err = await startNodeRunner({ storagePath, appDataDir: join(dir, 'app'), apiPort: 0 }).catch(e => e)
    expect(err).toMatchObject({ name: 'StoragePathLockedError', code: 'ERR_STORAGE_LOCKED', pid: process.pid, hostname: hostname(), lockPath })
    expect(err.message).toContain(String(process.pid))
    // the refused runner changed nothing: the first one still serves
    expect((await fetch(`${first.url}/health`)).status).toBe(200)
    await first.stop()
    runners.splice(0)
    await expect(readFile(lockPath)).rejects.toMatchObject({ code: 'ENOENT' })
    await start()
  })

  it('refuses a runner while another process holds the path (the CLI exits 1 with the holder\'s pid)', async () => {
    const child = spawn(process.execPath, [BIN, 'node', '--storage', storagePath, '--app-data', join(dir, 'app'), '--quota', '32MiB', '--api-port', '0', '--workspace', 'ws-lock'], {
      env: { ...process.env, LOG_LEVEL: 'warn', OTHERTHING_SWARM_KEY: generateSwarmKey() },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const exited = new Promise<number | null>(resolve => child.once('close', code => resolve(code)))
    try {
      await new Promise<void>((resolve, reject) => {
        let out = ''
        child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; if (out.includes('press Ctrl+C')) resolve() })
        child.once('close', code => reject(new Error(`the first node exited early (${String(code)})`)))
      })
      const err = await startNodeRunner({ storagePath, appDataDir: join(dir, 'app'), apiPort: 0 }).catch(e => e)
      expect(err).toMatchObject({ name: 'StoragePathLockedError', code: 'ERR_STORAGE_LOCKED', pid: child.pid })

      const second = spawnSync(process.execPath, [BIN, 'node', '--storage', storagePath, '--app-data', join(dir, 'app'), '--api-port', '0'], {
        env: { ...process.env, LOG_LEVEL: 'warn' }, encoding: 'utf8', timeout: 60_000
      })
      expect(second.status).toBe(1)
      expect(second.stderr).toContain(`process ${String(child.pid)}`)
      expect(second.stderr).toContain('ERR_STORAGE_LOCKED')
    } finally {
      child.kill('SIGINT')
      expect(await exited).toBe(0)
    }
    // the first process released the lock on its way out
    await expect(readFile(lockPath)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('takes over the stale lock of a dead process on this host', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    const deadPid = Number(dead.stdout)
    await mkdir(join(storagePath, 'otherthing-storage'), { recursive: true })
    await writeFile(lockPath, JSON.stringify({ pid: deadPid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }))
    await start()
    expect(JSON.parse(await readFile(lockPath, 'utf8')).pid).toBe(process.pid)
  })

  it('respects a lock from another host', async () => {
    await mkdir(join(storagePath, 'otherthing-storage'), { recursive: true })
    await writeFile(lockPath, JSON.stringify({ pid: 1, hostname: 'elsewhere.example', startedAt: '2026-01-01T00:00:00.000Z' }))
    await expect(acquireStorageLock(join(storagePath, 'otherthing-storage'))).rejects.toMatchObject({ code: 'ERR_STORAGE_LOCKED', hostname: 'elsewhere.example', pid: 1 })
  })

  it('two processes racing for a free path: exactly one wins', async () => {
    const root = join(storagePath, 'otherthing-storage')
    // the winner holds the lock until the test closes its stdin, after all three have answered: a process that
    // reaches the lock late (a loaded machine starts them seconds apart) still finds it held, never stale
    const script = `import('${new URL('../src/storage/lock.ts', import.meta.url).href}').then(m => m.acquireStorageLock(${JSON.stringify(root)})).then(() => { process.stdout.write('won'); process.stdin.resume() }, e => { process.stdout.write(e.code) })`
    const children = [0, 1, 2].map(() => spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }))
    const closed = children.map(async c => { await once(c, 'close') })
    try {
      const race = await Promise.all(children.map(async c => await new Promise<string>((resolve) => {
        let out = ''
        c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; if (out === 'won' || out === 'ERR_STORAGE_LOCKED') resolve(out) })
        c.once('close', () => resolve(out))
      })))
      expect(race.filter(r => r === 'won')).toHaveLength(1)
      expect(race.filter(r => r === 'ERR_STORAGE_LOCKED')).toHaveLength(2)
    } finally {
      for (const c of children) c.stdin.end()
      await Promise.all(closed)
    }
  })
})
