/**
 * Electron IPC handlers over a real IPFSManager. The only stand-in is a tiny
 * ipcMain object that records handlers: that is the Electron seam, not what
 * is tested.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IPC_CHANNELS, registerIpcHandlers } from '../src/runner/ipc.js'
import { IPFSManager } from '../src/runner/ipfs-manager.js'
import { generateSwarmKey, parseSwarmKey } from '../src/swarm-key/index.js'
import type { IpcMainLike } from '../src/runner/ipc.js'

type Listener = (event: unknown, ...args: any[]) => unknown

/** Records handlers like Electron's ipcMain and invokes them like ipcRenderer.invoke. */
class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, Listener>()
  handle (channel: string, listener: Listener): void {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`) // Electron throws too
    this.handlers.set(channel, listener)
  }

  removeHandler (channel: string): void {
    this.handlers.delete(channel)
  }

  async invoke (channel: string, ...args: unknown[]): Promise<any> {
    const listener = this.handlers.get(channel)
    if (listener === undefined) throw new Error(`No handler registered for '${channel}'`)
    return await listener({ sender: 'renderer' }, ...args)
  }
}

describe('registerIpcHandlers + IPFSManager', () => {
  let dir: string
  let managerA: IPFSManager
  let managerB: IPFSManager
  const ipc = new FakeIpcMain()
  let unregister: () => void
  const key = generateSwarmKey()

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipc-spec-'))
    managerA = new IPFSManager(join(dir, 'a'), { workspaceId: 'ws-ipc', quota: '64MiB', listen: ['/ip4/127.0.0.1/tcp/0'] })
    await managerA.init()
    unregister = registerIpcHandlers(ipc, managerA)
  })

  afterAll(async () => {
    unregister?.()
    await managerA?.stop()
    await managerB?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('registers every seed channel', () => {
    expect([...ipc.handlers.keys()].sort()).toEqual([...IPC_CHANNELS].sort())
    expect(IPC_CHANNELS).toEqual(['ipfs-start', 'ipfs-stop', 'ipfs-status', 'ipfs-add', 'ipfs-get', 'ipfs-pin', 'ipfs-unpin', 'ipfs-stats'])
  })

  it('ipfs-start without a swarm key rejects with InvalidSwarmKeyError', async () => {
    await expect(ipc.invoke('ipfs-start')).rejects.toMatchObject({ name: 'InvalidSwarmKeyError' })
    expect(await ipc.invoke('ipfs-status')).toEqual({ running: false, workspaceId: 'ws-ipc' })
  })

  it('ipfs-stats before start rejects with NotStartedError', async () => {
    await expect(ipc.invoke('ipfs-stats')).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' })
  })

  it('starts, adds, gets, stats, unpins through the channels', async () => {
    await managerA.setSwarmKey(key)
    await ipc.invoke('ipfs-start')
    await ipc.invoke('ipfs-start') // idempotent
    const status = await ipc.invoke('ipfs-status')
    expect(status).toMatchObject({ running: true, workspaceId: 'ws-ipc', keyFingerprint: parseSwarmKey(key).fingerprint, peers: 0 })
    expect(status.peerId).toMatch(/^12D3/)
    expect(JSON.stringify(status)).not.toContain(key)

    const file = join(dir, 'in.bin')
    const data = randomBytes(700_000)
    await writeFile(file, data)
    const cid = await ipc.invoke('ipfs-add', file)
    expect(cid).toMatch(/^Qm/)

    const out = join(dir, 'out.bin')
    await ipc.invoke('ipfs-get', cid, out)
    expect((await readFile(out)).equals(data)).toBe(true)

    const stats = await ipc.invoke('ipfs-stats')
    expect(stats.quotaBytes).toBe(64 * 2 ** 20)
    expect(stats.usedBytes).toBeGreaterThanOrEqual(data.length)
    expect(stats.pins).toBe(1)

    await ipc.invoke('ipfs-unpin', cid)
    expect((await ipc.invoke('ipfs-stats')).pins).toBe(0)
    await ipc.invoke('ipfs-pin', cid) // still stored locally
    expect((await ipc.invoke('ipfs-stats')).pins).toBe(1)
  })

  it('validates arguments: bad CIDs and paths reject with named errors', async () => {
    await expect(ipc.invoke('ipfs-pin', 'not-a-cid')).rejects.toMatchObject({ name: 'InvalidCidError', code: 'ERR_INVALID_CID' })
    await expect(ipc.invoke('ipfs-unpin', 42)).rejects.toMatchObject({ name: 'InvalidCidError' })
    await expect(ipc.invoke('ipfs-get', 'QmNotACid!!', join(dir, 'x'))).rejects.toMatchObject({ name: 'InvalidCidError' })
    await expect(ipc.invoke('ipfs-add', 'relative/file.bin')).rejects.toMatchObject({ name: 'InvalidArgumentError', code: 'ERR_INVALID_ARGUMENT' })
    await expect(ipc.invoke('ipfs-add', undefined)).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(ipc.invoke('ipfs-add', join(dir, 'missing.bin'))).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(ipc.invoke('ipfs-add', { path: '/etc/passwd' })).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(ipc.invoke('ipfs-get', 'QmPfn9cC2YtVjEZiXKYf2fMjzcirSQtNgS6S8W3iaGUmBz', 'out.bin')).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    // the manager still works afterwards
    expect((await ipc.invoke('ipfs-status')).running).toBe(true)
  })

  it('a second manager with the same key fetches and pins the content over the private swarm', async () => {
    managerB = new IPFSManager(join(dir, 'b'), { workspaceId: 'ws-ipc', quota: '64MiB', listen: ['/ip4/127.0.0.1/tcp/0'] })
    await managerB.init()
    await managerB.setSwarmKey(key, 'ws-ipc', managerA.status().multiaddrs)
    await managerB.start()
    const file = join(dir, 'shared.bin')
    const data = randomBytes(400_000)
    await writeFile(file, data)
    const cid = await managerA.add(file)
    await managerB.pin(cid, { timeout: 20_000 })
    const out = join(dir, 'shared-copy.bin')
    await managerB.get(cid, out)
    expect((await readFile(out)).equals(data)).toBe(true)
    expect((await managerB.stats()).pins).toBe(1)
  })

  it('ipfs-stop stops; the key stays in memory for the next start (never on disk)', async () => {
    await ipc.invoke('ipfs-stop')
    expect((await ipc.invoke('ipfs-status')).running).toBe(false)
    await expect(ipc.invoke('ipfs-add', join(dir, 'in.bin'))).rejects.toMatchObject({ code: 'ERR_NOT_STARTED' })
    await ipc.invoke('ipfs-start')
    expect((await ipc.invoke('ipfs-status')).running).toBe(true)
  })

  it('a second manager on the same storage path is refused, naming the holder', async () => {
    const twin = new IPFSManager(join(dir, 'a'), { workspaceId: 'ws-ipc', quota: '64MiB', listen: ['/ip4/127.0.0.1/tcp/0'] })
    await twin.setSwarmKey(key, 'ws-ipc')
    await expect(twin.start()).rejects.toMatchObject({ name: 'StoragePathLockedError', code: 'ERR_STORAGE_LOCKED', pid: process.pid })
    await twin.stop()
    expect((await ipc.invoke('ipfs-status')).running).toBe(true)
  })

  it('no file under the storage path holds the swarm key', async () => {
    const files = (await readdir(join(dir, 'a'), { recursive: true, withFileTypes: true })).filter(e => e.isFile())
    expect(files.length).toBeGreaterThan(0)
    expect(files.map(f => f.name)).not.toContain('swarm.key')
    const raw = Buffer.from(parseSwarmKey(key).bytes)
    for (const f of files) {
      const content = await readFile(join(f.parentPath ?? (f as any).path, f.name))
      expect(content.includes(key)).toBe(false)
      expect(content.includes(raw)).toBe(false)
      expect(content.includes('/key/swarm/psk')).toBe(false)
    }
  })

  it('the unregister function removes every handler', () => {
    const other = new FakeIpcMain()
    const off = registerIpcHandlers(other, managerA)
    expect(other.handlers.size).toBe(8)
    off()
    expect(other.handlers.size).toBe(0)
    off() // idempotent
  })

  it('the constructor refuses a relative storage path', () => {
    expect(() => new IPFSManager('relative/path')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }))
  })
})
