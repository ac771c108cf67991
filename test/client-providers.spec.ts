/**
 * Replication from every holder, driven by the orchestrator (issue #15): a
 * real orchestrator (SQLite) and four real storage nodes with their clients.
 * Three members hold a pin; when the orchestrator places it on the fourth
 * (`pin_content` naming the holders as providers, which the client dials),
 * the fetch takes blocks from all three, each block sent once. The fourth
 * is already connected to the holders through the orchestrator's bootstrap
 * peers, so this proves the orchestrator-driven pin uses every holder, not
 * that the providers list alone would find them (node-transfer-multi tests
 * `pin({ providers })` from a node with no peers).
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrchestratorClient } from '../src/client/index.js'
import type { OrchestratorClient } from '../src/client/index.js'
import { createStorageNode } from '../src/node/index.js'
import type { StorageNode, WorkspaceNode } from '../src/node/index.js'
import type { DagTransfer } from '../src/node/transfer/index.js'
import { createOrchestrator } from '../src/orchestrator/index.js'
import type { Orchestrator } from '../src/orchestrator/index.js'
import { logCleanupError } from './helpers/cleanup.js'

const MiB = 2 ** 20
const WS = 'providers'

interface Member { nodeId: string, node: StorageNode, client: OrchestratorClient }

function served (ws: WorkspaceNode): number {
  // the running node's transfer component (workspace-node.ts keeps it with the other components)
  return ((ws as any).running.transfer as DagTransfer).served.blocks
}

describe('a pin placed on a new member is fetched from every holder', () => {
  let root: string
  let orch: Orchestrator
  const members: Member[] = []

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'client-providers-'))
    orch = createOrchestrator({ databasePath: join(root, 'o.db'), port: 0 })
    const { url } = await orch.start()
    await orch.createWorkspace({ id: WS, name: 'Providers' })
    // the fetcher has the least free space: the first placement goes to the three others
    for (const [i, quota] of [256, 256, 256, 64].entries()) {
      const node = await createStorageNode({ storagePath: join(root, `n${i}`), quotaBytes: quota * MiB, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], reserveBytes: 0 })
      const created = await orch.createNode({ name: `n${i}` })
      await orch.addMember(WS, created.node.id)
      const client = createOrchestratorClient({ url, token: created.token, storageNode: node, nodeName: `n${i}`, reconnectInitialMs: 100, storageReportIntervalMs: 0 })
      await client.start()
      await client.waitConnected()
      members.push({ nodeId: created.node.id, node, client })
    }
  })

  afterAll(async () => {
    for (const m of members) {
      await m.client.stop().catch(logCleanupError)
      await m.node.stop().catch(logCleanupError)
    }
    await orch?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it('takes blocks from all three holders', async () => {
    await expect.poll(async () => (await orch.workspaceStatus(WS)).nodes.filter(n => n.peerId != null).length, { timeout: 20_000 }).toBe(4)
    const data = randomBytes(16 * MiB)
    const holders = members.slice(0, 3).map(m => m.node.workspace(WS))
    const fetcher = members[3]
    const cid = (await Promise.all(holders.map(async h => h.add(data))))[0].cid.toString()
    await orch.pin(WS, { cid, replicationMin: 3, replicationMax: 3 })
    await expect.poll(async () => (await orch.pinStatus(WS, cid)).copies, { timeout: 20_000 }).toBe(3)
    expect((await orch.pinStatus(WS, cid)).allocations.map(a => a.nodeId)).not.toContain(fetcher.nodeId)

    const before = holders.map(served)
    await orch.pinOnNode(WS, fetcher.nodeId, { cid })
    await expect.poll(async () => (await orch.pinStatus(WS, cid)).copies, { timeout: 60_000 }).toBe(4)

    const fetched = fetcher.node.workspace(WS)
    const sent = holders.map((h, i) => served(h) - before[i])
    for (const n of sent) expect(n).toBeGreaterThan(0)
    // each block once: what the holders sent together is the DAG, no more
    expect(sent.reduce((a, b) => a + b, 0)).toBe((await fetched.stat(cid, { offline: true })).blocks)
    const h = createHash('sha256')
    for await (const chunk of fetched.cat(cid)) h.update(chunk)
    expect(h.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
  }, 90_000)
})
