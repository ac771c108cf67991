/**
 * Multi-source pin through the DAG transfer protocol, with three real holders
 * on loopback: every holder serves part of the DAG, the content arrives
 * intact, no block is ever in two peers' requests at once nor sent twice, and
 * a holder that dies mid-transfer has its work taken by the others.
 * The servers are instrumented through their `serve` events and counters.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { getBlock, readLinks } from '../src/node/dag.js'
import { createStorageNode } from '../src/node/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'
import type { StorageNode, WorkspaceNode } from '../src/node/index.js'
import type { DagTransfer, ServeEvent } from '../src/node/transfer/index.js'
import type { CID } from 'multiformats/cid'

const MiB = 2 ** 20
const dirs: string[] = []
const nodes: StorageNode[] = []

async function makeNode (upBytesPerSecond?: number): Promise<StorageNode> {
  const dir = await mkdtemp(join(tmpdir(), 'transfer-multi-'))
  dirs.push(dir)
  const node = await createStorageNode({
    ...(upBytesPerSecond != null ? { bandwidth: { upBytesPerSecond } } : {}),
    storagePath: dir,
    quotaBytes: 256 * MiB,
    listenAddresses: ['/ip4/127.0.0.1/tcp/0'],
    blockTimeout: 2000,
    blockRetries: 1,
    dialTimeout: 2000
  })
  nodes.push(node)
  return node
}

afterAll(async () => {
  await Promise.allSettled(nodes.map(async n => n.stop()))
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

function transferOf (ws: WorkspaceNode): DagTransfer {
  // the running node's transfer component (workspace-node.ts keeps it with the other components)
  return (ws as any).running.transfer as DagTransfer
}

async function catHash (ws: WorkspaceNode, cid: CID): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of ws.cat(cid, { timeout: 5000 })) h.update(chunk)
  return h.digest('hex')
}

/** Watches the servers: CIDs in an open request (across all of them), and blocks sent per CID. */
function watch (servers: WorkspaceNode[]): { overlaps: string[], sent: Map<string, number>, perServer: number[] } {
  const open = new Map<string, string>()
  const requests = new Map<string, string[]>()
  const seen = { overlaps: [] as string[], sent: new Map<string, number>(), perServer: servers.map(() => 0) }
  servers.forEach((ws, i) => {
    transferOf(ws).addEventListener('serve', (evt) => {
      const e: ServeEvent = evt.detail
      const id = `${i}:${e.id}`
      if (e.type === 'request') {
        const keys = e.cids.map(c => c.toString())
        for (const k of keys) {
          if (open.has(k)) seen.overlaps.push(`${k} in ${open.get(k) as string} and ${id}`)
          open.set(k, id)
        }
        requests.set(id, keys)
      } else if (e.type === 'block') {
        if (!e.found) return
        seen.sent.set(e.cid.toString(), (seen.sent.get(e.cid.toString()) ?? 0) + 1)
        seen.perServer[i]++
      } else {
        for (const k of requests.get(id) ?? []) if (open.get(k) === id) open.delete(k)
        requests.delete(id)
      }
    })
  })
  return seen
}

describe('pin from several holders at once', () => {
  const key = generateSwarmKey()

  it('shares the DAG among three holders given as providers: intact, each block requested once at a time and sent once', async () => {
    const data = randomBytes(40 * MiB)
    const holders: WorkspaceNode[] = []
    for (let i = 0; i < 3; i++) holders.push(await (await makeNode()).join('multi', key))
    const added = await Promise.all(holders.map(async h => h.add(data)))
    const cid = added[0].cid
    expect(added.every(a => a.cid.equals(cid))).toBe(true)
    const seen = watch(holders)

    const fetcher = await (await makeNode()).join('multi', key)
    expect(fetcher.peers()).toEqual([])
    const info = await fetcher.pin(cid, { timeout: 60_000, providers: holders.flatMap(h => h.multiaddrs()) })
    expect(info.size).toBe(40 * MiB)
    expect(fetcher.peers().length).toBe(3)
    expect(await catHash(fetcher, cid)).toBe(createHash('sha256').update(data).digest('hex'))

    expect(seen.overlaps).toEqual([])
    // every holder took part, and no block went out twice
    for (const n of seen.perServer) expect(n).toBeGreaterThan(0)
    expect([...seen.sent.values()].filter(n => n > 1)).toEqual([])
    const stat = await fetcher.stat(cid, { offline: true })
    expect(seen.sent.size).toBe(stat.blocks)
  }, 90_000)

  it('a holder that dies mid-transfer has its work taken by the others', async () => {
    const data = randomBytes(48 * MiB)
    const holderNodes: StorageNode[] = []
    const holders: WorkspaceNode[] = []
    for (let i = 0; i < 3; i++) {
      const n = await makeNode()
      holderNodes.push(n)
      holders.push(await n.join('dies', key))
    }
    const [{ cid }] = await Promise.all(holders.map(async h => h.add(data)))
    const seen = watch(holders)
    const fetcher = await (await makeNode()).join('dies', key, { bootstrapPeers: holders.flatMap(h => h.multiaddrs()) })
    expect(fetcher.peers().length).toBe(3)

    // the first holder stops once it has sent a few blocks
    let killed: Promise<void> | undefined
    transferOf(holders[0]).addEventListener('serve', (evt) => {
      if (killed == null && evt.detail.type === 'block' && seen.perServer[0] >= 4) killed = holderNodes[0].stop()
    })
    let last = { bytes: 0, total: undefined as number | undefined }
    await fetcher.pin(cid, { timeout: 60_000, onProgress: p => { last = { bytes: p.bytes, total: p.total } } })
    await killed
    expect(killed).toBeDefined()
    expect(last.bytes).toBe(last.total)
    expect(await catHash(fetcher, cid)).toBe(createHash('sha256').update(data).digest('hex'))
    expect(seen.overlaps).toEqual([])
    expect(seen.perServer[1] + seen.perServer[2]).toBeGreaterThan(0)
    // the transfer protocol brought every block (none was left to bitswap)
    expect(seen.sent.size).toBe((await fetcher.stat(cid, { offline: true })).blocks)
  }, 90_000)

  it('work left on a slow holder is taken by the idle ones', async () => {
    const data = randomBytes(24 * MiB)
    const slow = await (await makeNode(256 * 1024)).join('slow', key)
    const fast = [await (await makeNode()).join('slow', key), await (await makeNode()).join('slow', key)]
    const holders = [slow, ...fast]
    const [{ cid }] = await Promise.all(holders.map(async h => h.add(data)))
    const seen = watch(holders)
    const fetcher = await (await makeNode()).join('slow', key)
    await fetcher.pin(cid, { timeout: 120_000, providers: holders.flatMap(h => h.multiaddrs()) })
    expect(await catHash(fetcher, cid)).toBe(createHash('sha256').update(data).digest('hex'))
    expect(seen.overlaps).toEqual([])
    // the slow holder sent far less than its share
    expect(seen.perServer[0]).toBeLessThan(seen.perServer[1] + seen.perServer[2])
  }, 150_000)

  it('a holder with part of the DAG: what it reports missing is asked of the others', async () => {
    const data = randomBytes(8 * MiB)
    const whole = await (await makeNode()).join('partial', key)
    const partial = await (await makeNode()).join('partial', key)
    const [{ cid }] = await Promise.all([whole.add(data), partial.add(data)])
    // the partial holder loses every other leaf
    const running = (partial as any).running
    const root = await getBlock(running.repo.blockstore, cid)
    const { links } = await readLinks(cid, root, running.helia.getCodec)
    for (let i = 0; i < links.length; i += 2) await running.repo.blockstore.delete(links[i].cid)
    const seen = watch([whole, partial])
    const fetcher = await (await makeNode()).join('partial', key)
    await fetcher.pin(cid, { timeout: 60_000, providers: [...partial.multiaddrs(), ...whole.multiaddrs()] })
    expect(await catHash(fetcher, cid)).toBe(createHash('sha256').update(data).digest('hex'))
    // every block came through the transfer protocol (none was left to bitswap)
    expect(seen.sent.size).toBe((await fetcher.stat(cid, { offline: true })).blocks)
    expect(seen.overlaps).toEqual([])
  }, 90_000)
})
