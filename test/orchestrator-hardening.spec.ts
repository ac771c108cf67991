/**
 * Issue #13 (orchestrator part): writes committed before a method returns,
 * the data folder and file modes, swarm keys encrypted at rest, the TLS
 * warning, and copies on a node gone past its grace period.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import WebSocket from 'ws'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOrchestrator, DATABASE_FILE_NAME } from '../src/orchestrator/index.js'
import type { Orchestrator, OrchestratorLogger } from '../src/orchestrator/index.js'
import { PROTOCOL_VERSION } from '../src/protocol/index.js'
import pg from 'pg'
import { usePostgres } from './helpers/postgres.js'

const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const PEERS = ['12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']
const isWindows = process.platform === 'win32'

const postgres = usePostgres()

describe.skipIf(postgres.skip != null)('orchestrator hardening (PostgreSQL)', () => {
  it('encrypts swarm keys at rest with a KEK on PostgreSQL too: plain keys sealed on open, no start without it, rotation', async () => {
    const database = await postgres.createDatabase()
    const rows = async (): Promise<string[]> => {
      const client = new pg.Client({ connectionString: database })
      await client.connect()
      try {
        return (await client.query<{ swarm_key: string }>('SELECT swarm_key FROM workspaces ORDER BY id')).rows.map(r => r.swarm_key)
      } finally {
        await client.end()
      }
    }
    const plain = createOrchestrator({ database, port: 0 })
    await plain.start()
    const id = (await plain.createWorkspace({ name: 'Old' })).id
    const key = await plain.swarmKeyFor(id)
    await plain.stop()
    expect(await rows()).toEqual([key])

    const kek = randomBytes(32).toString('hex')
    const enc = createOrchestrator({ database, port: 0, keyEncryptionKey: kek })
    await enc.start()
    expect(await enc.swarmKeyFor(id)).toBe(key)
    const other = (await enc.createWorkspace({ name: 'New' })).id
    const otherKey = await enc.swarmKeyFor(other)
    for (const stored of await rows()) {
      expect(stored).toMatch(/^otk1:/)
      expect(stored).not.toContain(key)
      expect(stored).not.toContain(otherKey)
    }
    const next = randomBytes(32).toString('hex')
    expect(await enc.rotateKeyEncryptionKey(next)).toBe(2)
    await enc.stop()

    await expect(createOrchestrator({ database, port: 0, keyEncryptionKeyFile: '' }).start()).rejects.toMatchObject({ code: 'ERR_KEY_ENCRYPTION_KEY' })
    await expect(createOrchestrator({ database, port: 0, keyEncryptionKey: kek }).start()).rejects.toMatchObject({ code: 'ERR_KEY_ENCRYPTION_KEY' })
    const rotated = createOrchestrator({ database, port: 0, keyEncryptionKey: next })
    await rotated.start()
    expect([await rotated.swarmKeyFor(id), await rotated.swarmKeyFor(other)]).toEqual([key, otherKey])
    await rotated.stop()
  })
})

describe('orchestrator hardening', () => {
  let dir: string
  const started: Orchestrator[] = []
  const start = async (init: Parameters<typeof createOrchestrator>[0]): Promise<Orchestrator> => {
    const o = createOrchestrator({ port: 0, ...init })
    started.push(o)
    urls.set(o, (await o.start()).url)
    return o
  }

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'orch-hard-')) })
  afterEach(async () => {
    for (const o of started.splice(0)) await o.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('commits createNode (and every write) before it returns: a second connection sees the row at once', async () => {
    const orch = await start({ dataDir: dir })
    const { node } = await orch.createNode({ name: 'laptop' })
    const ws = await orch.createWorkspace({ name: 'Team' })
    await orch.addMember(ws.id, node.id)
    const other = new Database(join(dir, DATABASE_FILE_NAME), { readonly: true })
    try {
      expect(other.prepare('SELECT name FROM nodes WHERE id = ?').get(node.id)).toEqual({ name: 'laptop' })
      expect(other.prepare('SELECT 1 AS one FROM memberships WHERE workspace_id = ? AND node_id = ?').get(ws.id, node.id)).toEqual({ one: 1 })
    } finally {
      other.close()
    }
  })

  it('creates a missing data folder (0700) and the database files 0600', async () => {
    const dataDir = join(dir, 'deep', 'state')
    const orch = await start({ dataDir })
    await orch.createWorkspace({ name: 'Team' })
    const db = join(dataDir, DATABASE_FILE_NAME)
    if (!isWindows) {
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700)
      for (const f of [db, `${db}-wal`, `${db}-shm`]) {
        expect(existsSync(f)).toBe(true)
        expect((await stat(f)).mode & 0o777).toBe(0o600)
      }
    }
  })

  it('throws a StorageError when the data folder cannot be created', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, 'x')
    const orch = createOrchestrator({ dataDir: join(file, 'state'), port: 0 })
    await expect(orch.start()).rejects.toMatchObject({ name: 'InvalidStoragePathError', code: 'ERR_INVALID_STORAGE_PATH' })
  })

  it('encrypts swarm keys at rest with a KEK, refuses to start without it or with another, rotates it', async () => {
    const kek = randomBytes(32).toString('hex')
    const kekFile = join(dir, 'kek')
    await writeFile(kekFile, randomBytes(32).toString('base64') + '\n', { mode: 0o600 })
    const dataDir = join(dir, 'state')
    const db = join(dataDir, DATABASE_FILE_NAME)
    const orch = await start({ dataDir, keyEncryptionKey: kek })
    const ids = [(await orch.createWorkspace({ name: 'One' })).id, (await orch.createWorkspace({ name: 'Two' })).id]
    await orch.rotateKey(ids[0])
    const keys = await Promise.all(ids.map(async id => await orch.swarmKeyFor(id)))
    const raw = async (): Promise<string> => Buffer.concat(await Promise.all([db, `${db}-wal`].filter(f => existsSync(f)).map(async f => await readFile(f)))).toString('latin1')
    for (const key of keys) expect((await raw()).toLowerCase()).not.toContain(key.toLowerCase())
    await orch.stop()
    started.length = 0

    await expect(createOrchestrator({ dataDir, port: 0, keyEncryptionKeyFile: '' }).start()).rejects.toMatchObject({ name: 'KeyEncryptionKeyError', code: 'ERR_KEY_ENCRYPTION_KEY' })
    await expect(createOrchestrator({ dataDir, port: 0, keyEncryptionKey: randomBytes(32) }).start()).rejects.toMatchObject({ code: 'ERR_KEY_ENCRYPTION_KEY' })
    await expect(createOrchestrator({ dataDir, port: 0, keyEncryptionKey: 'short' }).start()).rejects.toMatchObject({ code: 'ERR_KEY_ENCRYPTION_KEY' })

    // rotate to the KEK in the file, in one transaction; the old KEK no longer opens it
    const again = await start({ dataDir, keyEncryptionKey: kek })
    expect(await Promise.all(ids.map(async id => await again.swarmKeyFor(id)))).toEqual(keys)
    expect(await again.rotateKeyEncryptionKey((await readFile(kekFile, 'utf8')).trim())).toBe(2)
    await again.stop()
    started.length = 0
    await expect(createOrchestrator({ dataDir, port: 0, keyEncryptionKey: kek }).start()).rejects.toMatchObject({ code: 'ERR_KEY_ENCRYPTION_KEY' })
    const rotated = await start({ dataDir, keyEncryptionKeyFile: kekFile })
    expect(await Promise.all(ids.map(async id => await rotated.swarmKeyFor(id)))).toEqual(keys)
    for (const key of keys) expect((await raw()).toLowerCase()).not.toContain(key.toLowerCase())
  })

  it('encrypts the plain keys of an existing database when a KEK is given, and reads them back', async () => {
    const dataDir = join(dir, 'state')
    const plain = await start({ dataDir })
    const id = (await plain.createWorkspace({ name: 'Old' })).id
    const key = await plain.swarmKeyFor(id)
    await plain.stop()
    started.length = 0
    const kek = randomBytes(32).toString('base64url')
    const enc = await start({ dataDir, keyEncryptionKey: kek })
    expect(await enc.swarmKeyFor(id)).toBe(key)
    const other = new Database(join(dataDir, DATABASE_FILE_NAME), { readonly: true })
    try {
      expect((other.prepare('SELECT swarm_key FROM workspaces WHERE id = ?').get(id) as { swarm_key: string }).swarm_key).toMatch(/^otk1:/)
    } finally {
      other.close()
    }
  })

  it('warns when it listens without TLS on a non-loopback address, not on loopback', async () => {
    const warnings: Array<{ obj: object, msg?: string }> = []
    const logger: OrchestratorLogger = { debug () {}, info () {}, error () {}, warn (obj, msg) { warnings.push({ obj, msg }) } }
    await start({ databasePath: ':memory:', host: '127.0.0.1', logger })
    expect(warnings).toHaveLength(0)
    await start({ databasePath: ':memory:', host: '0.0.0.0', logger })
    expect(warnings.some(w => /without TLS/.test(w.msg ?? ''))).toBe(true)
  })

  it('stops counting a copy in pinStatus once its node is offline past the grace period', async () => {
    const orch = await start({ databasePath: ':memory:', repinGraceMs: 300 })
    const url = urls.get(orch) as string
    const ws = await orch.createWorkspace({ id: 'w', name: 'W' })
    const nodes = [await orch.createNode({ name: 'a' }), await orch.createNode({ name: 'b' })]
    for (const n of nodes) await orch.addMember(ws.id, n.node.id)
    const sockets = await Promise.all(nodes.map(async (n, i) => await joinNode(url, n.token, PEERS[i])))
    await orch.pin(ws.id, { cid: CID, replicationMin: 2 })
    for (const s of sockets) s.send(JSON.stringify({ type: 'content_pinned', workspace_id: 'w', cid: CID, size: 1 }))
    await expect.poll(async () => (await orch.pinStatus('w', CID)).copies, { timeout: 5000 }).toBe(2)
    const closed = new Promise(resolve => orch.onChange(e => { if (e.type === 'node:offline') resolve(e) }))
    sockets[0].close()
    await closed
    // within the grace period it still counts; after it, it does not (2 wanted, 1 live holder)
    expect((await orch.pinStatus('w', CID)).copies).toBe(2)
    await expect.poll(async () => (await orch.pinStatus('w', CID)).copies, { timeout: 5000, interval: 50 }).toBe(1)
    expect((await orch.pinStatus('w', CID)).status).not.toBe('pinned')
    sockets[1].close()
  })
})

const urls = new WeakMap<Orchestrator, string>()

async function joinNode (url: string, token: string, peer: string): Promise<WebSocket> {
  const ws = new WebSocket(url)
  ws.on('error', () => {})
  const inbox: Array<Record<string, any>> = []
  let poke: () => void = () => {}
  ws.on('message', raw => { inbox.push(JSON.parse(raw.toString())); poke() })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const next = async (type: string): Promise<Record<string, any>> => {
    for (;;) {
      const found = inbox.find(m => m.type === type)
      if (found != null) return found
      await new Promise<void>(resolve => { poke = resolve })
    }
  }
  ws.send(JSON.stringify({ type: 'hello', protocol_version: PROTOCOL_VERSION, token }))
  await next('welcome')
  const joined = await next('workspace_joined')
  ws.send(JSON.stringify({ type: 'ipfs_ready', workspace_id: joined.workspace_id, peer_id: peer, addresses: ['/ip4/127.0.0.1/tcp/4001'] }))
  ws.send(JSON.stringify({ type: 'pin_sync', workspace_id: joined.workspace_id, cids: [] }))
  return ws
}
