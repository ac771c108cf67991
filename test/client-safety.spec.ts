/**
 * The orchestrator client and the node runner make their connection problems
 * visible: plain ws:// to another host is refused, an unreachable
 * orchestrator is warned about (rate-limited, with its URL), and a refused
 * token stops the CLI's `node` command with exit code 1.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOrchestratorClient, isLoopbackHost } from '../src/client/index.js'
import type { ClientLogger } from '../src/client/index.js'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode } from '../src/node/index.js'
import { createOrchestrator } from '../src/orchestrator/index.js'
import { createLogger } from '../src/runner/logger.js'
import { startNodeRunner } from '../src/runner/node-runner.js'

const BIN = fileURLToPath(new URL('../bin/otherthing-storage.js', import.meta.url))

let dir: string
let node: StorageNode | undefined

beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'client-safety-')) })
afterEach(async () => {
  await node?.stop()
  node = undefined
  await rm(dir, { recursive: true, force: true })
})

async function storageNode (): Promise<StorageNode> {
  node = await createStorageNode({ storagePath: join(dir, 'n'), quotaBytes: 8 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0 })
  return node
}

/** A port nothing listens on. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

function recordingLogger (): ClientLogger & { lines: Array<{ level: string, obj: any, msg?: string }> } {
  const lines: Array<{ level: string, obj: any, msg?: string }> = []
  const at = (level: string) => (obj: object, msg?: string) => { lines.push({ level, obj, msg }) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

describe('plain ws:// to another host', () => {
  it('is refused with InsecureConnectionError unless allowInsecure; loopback and wss:// are fine', async () => {
    const storage = await storageNode()
    for (const url of ['ws://192.0.2.10:7420/ws', 'ws://orch.example.com/ws', 'http://10.0.0.2:7420/ws', 'ws://[2001:db8::1]:7420/ws']) {
      expect(() => createOrchestratorClient({ url, token: 't', storageNode: storage }))
        .toThrow(expect.objectContaining({ name: 'InsecureConnectionError', code: 'ERR_INSECURE_CONNECTION' }))
      expect(() => createOrchestratorClient({ url, token: 't', storageNode: storage, allowInsecure: true })).not.toThrow()
    }
    for (const url of ['ws://127.0.0.1:7420/ws', 'ws://localhost:7420/ws', 'ws://[::1]:7420/ws', 'wss://orch.example.com/ws']) {
      expect(() => createOrchestratorClient({ url, token: 't', storageNode: storage })).not.toThrow()
    }
    expect(() => createOrchestratorClient({ url: 'ftp://x/ws', token: 't', storageNode: storage })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    expect(isLoopbackHost('127.8.9.10')).toBe(true)
    expect(isLoopbackHost('128.0.0.1')).toBe(false)
  })

  it('a node runner configured that way does not start', async () => {
    const err = await startNodeRunner({ storagePath: join(dir, 's'), appDataDir: join(dir, 'app'), apiPort: 0, orchestratorUrl: 'ws://192.0.2.10:7420/ws', orchestratorToken: 'ot_x' }).catch(e => e)
    expect(err).toMatchObject({ name: 'InsecureConnectionError', code: 'ERR_INSECURE_CONNECTION' })
  })
})

describe('an unreachable orchestrator', () => {
  it('is warned about once with its URL, then at debug level until the interval passes', async () => {
    const storage = await storageNode()
    const port = await closedPort()
    const log = recordingLogger()
    const client = createOrchestratorClient({ url: `ws://127.0.0.1:${port}/ws?x=1`, token: 't', storageNode: storage, reconnectInitialMs: 5, reconnectMaxMs: 10, storageReportIntervalMs: 0, logger: log })
    await client.start()
    try {
      await expect.poll(() => log.lines.filter(l => l.msg === 'cannot reach the orchestrator; retrying').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(5)
      const warns = log.lines.filter(l => l.level === 'warn')
      expect(warns).toHaveLength(1)
      expect(warns[0].obj).toMatchObject({ url: `ws://127.0.0.1:${port}/ws`, attempts: 1 })
      expect(String(warns[0].obj.err)).toMatch(/ECONNREFUSED/)
    } finally {
      await client.stop()
    }
  })
})

describe('a refused node token', () => {
  it('resolves runner.refused and is logged at error level', async () => {
    const orch = createOrchestrator({ databasePath: join(dir, 'o.db'), port: 0 })
    const { url } = await orch.start()
    const sink = new PassThrough()
    let text = ''
    sink.setEncoding('utf8').on('data', (d: string) => { text += d })
    const runner = await startNodeRunner({
      storagePath: join(dir, 's'), appDataDir: join(dir, 'app'), apiPort: 0, orchestratorUrl: url, orchestratorToken: 'ot_wrong',
      logger: createLogger({ level: 'info', destination: sink })
    })
    try {
      const err = await runner.refused
      expect(err).toMatchObject({ name: 'OrchestratorRefusedError', code: 'ERR_ORCHESTRATOR_REFUSED', reason: 'ERR_UNAUTHORIZED' })
      const errors = text.split('\n').filter(l => l.includes('"level":50'))
      expect(errors.some(l => l.includes('refused this node') && l.includes(new URL(url).host))).toBe(true)
      expect(text).not.toContain('ot_wrong')
    } finally {
      await runner.stop()
      await orch.stop()
    }
  })

  it('makes the CLI node command exit 1 with a clear message', async () => {
    const orch = createOrchestrator({ databasePath: join(dir, 'o.db'), port: 0 })
    const { url } = await orch.start()
    try {
      const run = await new Promise<{ code: number | null, stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, 'node', '--storage', join(dir, 's'), '--app-data', join(dir, 'app'), '--api-port', '0', '--orchestrator', url, '--token', 'ot_wrong'], {
          env: { ...process.env, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'ignore', 'pipe']
        })
        let stderr = ''
        child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
        child.once('error', reject)
        child.once('close', code => { resolve({ code, stderr }) })
      })
      expect(run.code).toBe(1)
      expect(run.stderr).toMatch(/error: .*refused this node's token.*ERR_ORCHESTRATOR_REFUSED/)
    } finally {
      await orch.stop()
    }
  })
})
