import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect } from 'vitest'
import { backoffDelay, createOrchestratorClient } from '../src/client/index.js'
import type { ClientEvent } from '../src/client/index.js'
import { createStorageNode } from '../src/node/index.js'
import { createOrchestrator } from '../src/orchestrator/index.js'

describe('backoffDelay', () => {
  it('doubles up to the maximum, with jitter in [d/2, d]', () => {
    expect(backoffDelay(0, 500, 30_000, () => 0)).toBe(250)
    expect(backoffDelay(0, 500, 30_000, () => 1)).toBe(500)
    expect(backoffDelay(3, 500, 30_000, () => 1)).toBe(4000)
    expect(backoffDelay(50, 500, 30_000, () => 1)).toBe(30_000)
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, 100, 1000)
      expect(d).toBeGreaterThanOrEqual(200)
      expect(d).toBeLessThanOrEqual(400)
    }
  })
})

describe('orchestrator client', () => {
  it('stops for good on a bad token, reports storage on a good one, reconnects after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'client-test-'))
    const orch = createOrchestrator({ databasePath: join(dir, 'o.db'), port: 0 })
    const { url } = await orch.start()
    const port = Number(new URL(url).port)
    const node = await createStorageNode({ storagePath: join(dir, 'n'), quotaBytes: 8 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0 })
    let restarted = orch
    try {
      const bad = createOrchestratorClient({ url, token: 'ot_wrong', storageNode: node, reconnectInitialMs: 20 })
      const badEvents: ClientEvent[] = []
      bad.onEvent(e => badEvents.push(e))
      await bad.start()
      await expect(bad.waitConnected()).rejects.toMatchObject({ code: 'ERR_ABORTED' })
      expect(badEvents.filter(e => e.type === 'fatal')).toHaveLength(1)
      expect(bad.connected).toBe(false)
      await bad.stop()

      const { node: info, token } = await orch.createNode({ name: 'n' })
      const client = createOrchestratorClient({ url, token, storageNode: node, reconnectInitialMs: 50, reconnectMaxMs: 200, storageReportIntervalMs: 0 })
      const events: ClientEvent[] = []
      client.onEvent(e => events.push(e))
      await client.start()
      await client.waitConnected({ signal: AbortSignal.timeout(5000) })
      expect(client.nodeId).toBe(info.id)
      await expect.poll(async () => (await orch.getNode(info.id)).storage?.quota).toBe(8 * 2 ** 20)

      await orch.stop()
      await expect.poll(() => client.connected).toBe(false)
      restarted = createOrchestrator({ databasePath: join(dir, 'o.db'), port })
      await restarted.start()
      await expect.poll(() => client.connected, { timeout: 10_000 }).toBe(true)
      expect(events.filter(e => e.type === 'connected')).toHaveLength(2)
      expect((await restarted.getNode(info.id)).online).toBe(true)
      await client.stop()
    } finally {
      await restarted.stop()
      await orch.stop()
      await node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
