/**
 * A node whose swarm key matches no peer says so at the default log level
 * (issue 13): a peer with another key dials a runner's workspace, and the
 * runner's log gets the refused connection and the "matches no peer" warning,
 * with fingerprints only.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startNodeRunner } from '../src/runner/node-runner.js'
import { createLogger } from '../src/runner/logger.js'
import { watchSwarmKey } from '../src/runner/key-mismatch.js'
import { createStorageNode } from '../src/node/index.js'
import { generateSwarmKey, parseSwarmKey } from '../src/swarm-key/index.js'
import type { StorageNode } from '../src/node/types.js'
import type { NodeRunner } from '../src/runner/node-runner.js'

describe('swarm key that matches no peer', () => {
  let dir: string
  let runner: NodeRunner | undefined
  let outsider: StorageNode | undefined

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'key-mismatch-')) })
  afterEach(async () => {
    await outsider?.stop()
    await runner?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('logs the refused connection and the "matches no peer" warning at the default level, without keys', async () => {
    const sink = new PassThrough()
    let log = ''
    sink.setEncoding('utf8').on('data', (d: string) => { log += d })
    const ourKey = generateSwarmKey()
    runner = await startNodeRunner({
      storagePath: join(dir, 'storage'), appDataDir: join(dir, 'app'), apiPort: 0, quota: '64MiB',
      logger: createLogger({ destination: sink }), // default level
      workspaces: [{ id: 'team', swarmKey: ourKey }]
    })
    const target = runner.storageNode.workspace('team')
    outsider = await createStorageNode({ storagePath: join(dir, 'outsider'), quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
    const otherKey = generateSwarmKey()
    const theirs = await outsider.join('team', otherKey)
    const err = await theirs.connect(target.multiaddrs()[0]).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_SWARM_KEY_MISMATCH' })

    await expect.poll(() => log.includes('matches no peer'), { timeout: 10_000, interval: 50 }).toBe(true)
    const lines = log.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
    const refused = lines.find(l => String(l.msg).includes('swarm key mismatch'))
    expect(refused).toMatchObject({ level: 40, workspaceId: 'team' })
    expect(lines.find(l => String(l.msg).includes('matches no peer'))).toMatchObject({ level: 40, workspaceId: 'team', fingerprint: parseSwarmKey(ourKey).fingerprint })
    expect(log).not.toContain(ourKey)
    expect(log).not.toContain(otherKey)
  })

  it('says nothing about "no peer" while the node has a peer with its key, and stops when unwatched', async () => {
    const key = generateSwarmKey()
    const a = await createStorageNode({ storagePath: join(dir, 'a'), quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
    const b = await createStorageNode({ storagePath: join(dir, 'b'), quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
    const c = await createStorageNode({ storagePath: join(dir, 'c'), quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      const wa = await a.join('w', key)
      await (await b.join('w', key)).connect(wa.multiaddrs()[0])
      const warnings: string[] = []
      const logger = createLogger({ destination: new PassThrough() })
      logger.warn = ((_fields: unknown, msg: string) => { warnings.push(msg) }) as typeof logger.warn
      const stop = watchSwarmKey(wa, logger)
      const wc = await c.join('w', generateSwarmKey())
      await expect(wc.connect(wa.multiaddrs()[0])).rejects.toMatchObject({ code: 'ERR_SWARM_KEY_MISMATCH' })
      await expect.poll(() => wa.pnet?.mismatches ?? 0, { timeout: 10_000, interval: 50 }).toBeGreaterThan(0)
      expect(warnings.some(w => w.includes('swarm key mismatch'))).toBe(true)
      expect(warnings.some(w => w.includes('matches no peer'))).toBe(false)
      stop()
      expect(wa.pnet?.warn).toBeUndefined()
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()])
    }
  })
})
