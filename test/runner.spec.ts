/**
 * startNodeRunner over real HTTP on 127.0.0.1, with real nodes and files.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startNodeRunner } from '../src/runner/node-runner.js'
import { createLogger } from '../src/runner/logger.js'
import { createOrchestrator } from '../src/orchestrator/orchestrator.js'
import { generateSwarmKey, parseSwarmKey } from '../src/swarm-key/index.js'
import type { NodeRunner } from '../src/runner/node-runner.js'

describe('createLogger', () => {
  it('redacts fields named like keys and tokens', async () => {
    const sink = new PassThrough()
    let log = ''
    sink.setEncoding('utf8').on('data', (d: string) => { log += d })
    const logger = createLogger({ level: 'info', destination: sink })
    const key = generateSwarmKey()
    logger.info({ swarmKey: key, msg: { ipfs_swarm_key: key }, token: 'secret-token', workspaceId: 'ws' }, 'careless')
    expect(log).toContain('careless')
    expect(log).toContain('"workspaceId":"ws"')
    expect(log).not.toContain(key)
    expect(log).not.toContain('secret-token')
  })
})

describe('startNodeRunner', () => {
  let dir: string
  const runners: NodeRunner[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-spec-'))
  })

  afterEach(async () => {
    for (const r of runners.splice(0)) await r.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function start (init: Parameters<typeof startNodeRunner>[0] = {}): Promise<NodeRunner> {
    const r = await startNodeRunner({ storagePath: join(dir, 'storage'), appDataDir: join(dir, 'app'), apiPort: 0, quota: '64MiB', ...init })
    runners.push(r)
    return r
  }

  it('creates node-config.json with a token, serves the API with auth, and stops', async () => {
    const key = generateSwarmKey()
    const runner = await start({ workspaces: [{ id: 'ws-a', swarmKey: key }] })
    expect(runner.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(runner.token).toMatch(/^[A-Za-z0-9_-]{40,}$/)
    expect(runner.config.quotaBytes).toBe(64 * 2 ** 20)
    const saved = JSON.parse(await readFile(runner.configPath, 'utf8'))
    expect(saved.apiToken).toBe(runner.token)
    expect(JSON.stringify(saved)).not.toContain(key)

    const unauth = await fetch(`${runner.url}/storage/stats`)
    expect(unauth.status).toBe(401)

    const auth = { authorization: `Bearer ${runner.token as string}` }
    const data = randomBytes(300_000)
    const up = await fetch(`${runner.url}/storage/upload?workspace=ws-a`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: data
    })
    expect(up.status).toBe(201)
    const { cid } = await up.json() as { cid: string }
    const down = await fetch(`${runner.url}/storage/${cid}`, { headers: auth })
    expect(down.status).toBe(200)
    expect(Buffer.from(await down.arrayBuffer()).equals(data)).toBe(true)

    const url = runner.url
    await runner.stop()
    await runner.stop() // idempotent
    await expect(fetch(`${url}/health`)).rejects.toThrow()
  })

  it('keeps the token across restarts and applies a new quota', async () => {
    const first = await start()
    const token = first.token
    await first.stop()
    const second = await start({ quota: '32MiB' })
    expect(second.token).toBe(token)
    expect(second.config.quotaBytes).toBe(32 * 2 ** 20)
    expect(second.storageNode.quotaBytes).toBe(32 * 2 ** 20)
  })

  it('serves without a token when apiAuth is false', async () => {
    const runner = await start({ apiAuth: false })
    expect(runner.token).toBeUndefined()
    const res = await fetch(`${runner.url}/storage/stats`)
    expect(res.status).toBe(200)
  })

  it('falls back to the app-data folder when the selected path is unusable', async () => {
    const file = join(dir, 'not-a-dir')
    await writeFile(file, 'x')
    const runner = await start({ storagePath: join(file, 'sub') })
    expect(runner.storageNode.root).toBe(join(dir, 'app', 'otherthing-storage'))
    expect(runner.config.storagePath).toBe(join(dir, 'app'))
  })

  it('rejects a bad quota and a bad swarm key with named errors, creating nothing', async () => {
    await expect(start({ quota: 'abc' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await expect(start({ workspaces: [{ id: 'ws', swarmKey: 'nope' }] })).rejects.toMatchObject({ name: 'InvalidSwarmKeyError' })
  })

  it('never logs a swarm key: joining through the orchestrator logs the fingerprint only', async () => {
    const orch = createOrchestrator({ databasePath: join(dir, 'orch.db'), port: 0 })
    const { url } = await orch.start()
    try {
      const ws = await orch.createWorkspace({ id: 'logged', name: 'Logged' })
      const { node, token } = await orch.createNode({ name: 'n1' })
      await orch.addMember(ws.id, node.id)

      const sink = new PassThrough()
      let log = ''
      sink.setEncoding('utf8').on('data', (d: string) => { log += d })
      const logger = createLogger({ level: 'trace', destination: sink })

      const standaloneKey = generateSwarmKey()
      const runner = await start({
        orchestratorUrl: url,
        orchestratorToken: token,
        logger,
        workspaces: [{ id: 'standalone', swarmKey: standaloneKey }]
      })
      expect(runner.client).toBeDefined()
      const deadline = performance.now() + 20_000
      while (!runner.storageNode.workspaces().some(w => w.workspaceId === 'logged')) {
        if (performance.now() > deadline) throw new Error('not joined')
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      const joined = runner.storageNode.workspace('logged')
      await runner.stop()

      expect(log).toContain(joined.keyFingerprint)
      expect(log).toContain(parseSwarmKey(standaloneKey).fingerprint)
      expect(log).not.toContain(standaloneKey)
      // the orchestrator's key for the workspace never shows up either (as hex or as Kubo text)
      expect(log).not.toMatch(/[0-9a-f]{64}/i)
      expect(log).not.toContain('/key/swarm/psk')
      expect(log).not.toContain(token)
    } finally {
      await orch.stop()
    }
  })
})
