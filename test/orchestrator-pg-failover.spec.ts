/**
 * The groundwork composed: three instances on one PostgreSQL (one a child
 * process), six nodes' sessions spread over them. The leader places each pin
 * once and its messages reach the nodes on the other instances; kill -9 the
 * leader and another one takes over, re-placing the copies of the nodes that
 * died with it; a node lost after that is still re-pinned.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresStore } from '../src/orchestrator/pg/postgres-store.js'
import { startMiniInstance } from './helpers/postgres-instance.js'
import { usePostgres } from './helpers/postgres.js'
import type { AsyncOrchestratorStore } from '../src/orchestrator/pg/async-store.js'
import type { MiniInstance } from './helpers/postgres-instance.js'

const postgres = usePostgres()
const GB = 2 ** 30

describe.skipIf(postgres.skip != null)('postgres: three instances, leader failover', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterAll(async () => { for (const fn of cleanup.reverse()) await fn() })

  /** Waits for a condition in the database (polled; no fixed delay decides the outcome). */
  async function until (check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise(resolve => setTimeout(resolve, 25))
    }
  }

  async function copies (store: AsyncOrchestratorStore): Promise<Map<string, string[]>> {
    const byPin = new Map<string, string[]>()
    for (const p of await store.listPins('ws')) byPin.set(p.cid, [])
    for (const a of await store.listAllocationsOfWorkspace('ws')) byPin.get(a.cid)?.push(a.node_id)
    return byPin
  }

  async function placedOnlyOn (store: AsyncOrchestratorStore, allowed: string[]): Promise<boolean> {
    const all = await copies(store)
    return [...all.values()].every(nodes => nodes.length === 2 && nodes.every(n => allowed.includes(n)))
  }

  it('places once, fails over on kill -9 of the leader, and still re-pins after', async () => {
    const url = await postgres.createDatabase()
    const admin = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    cleanup.push(async () => { await admin.close() })
    await admin.insertWorkspace({ id: 'ws', name: 'ws', swarm_key: 'secret', key_version: 1, created_at: 1 })
    const free: Record<string, number> = { n1: 450, n2: 350, n3: 500, n4: 400, n5: 300, n6: 200 }
    for (const [i, id] of Object.keys(free).entries()) {
      await admin.insertNode({ id, name: id, token_hash: Buffer.from([i]), created_at: i })
      await admin.addMember('ws', id, i)
      await admin.setNodeStorage(id, 0, free[id] * GB, free[id] * GB, 1)
    }

    // instance a, in a child process, leads; it holds n1 and n2
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/postgres-instance.ts'], {
      cwd: process.cwd(), env: { ...process.env, INSTANCE_URL: url, INSTANCE_ID: 'a', INSTANCE_NODES: 'n1,n2' }, stdio: ['ignore', 'pipe', 'inherit']
    })
    cleanup.push(() => { if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL') })
    const childInbox: Array<{ nodeId: string, message: { cid: string } }> = []
    let childLeads!: () => void
    const childLeader = new Promise<void>(resolve => { childLeads = resolve })
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line)
      if (event.leader === true) childLeads()
      if (event.nodeId != null) childInbox.push(event)
    })
    await Promise.race([childLeader, once(child, 'exit').then(() => { throw new Error('instance a exited') })])

    const instances: MiniInstance[] = [await startMiniInstance(url, 'b', ['n3', 'n4']), await startMiniInstance(url, 'c', ['n5', 'n6'])]
    cleanup.push(async () => { for (const i of instances) await i.stop() })
    expect(await instances[0].lease.holder()).toBe('a')
    await until(async () => (await instances[0].bus.onlineNodes()).size === 6, 'six online nodes')

    for (let i = 0; i < 10; i++) {
      await admin.upsertPin({ workspace_id: 'ws', cid: `bafy${i}`, name: null, size: 40 * GB, replication_min: 2, replication_max: 2, created_at: 10 + i })
    }
    // b changed something: the leader (a) places; both followers ignore it
    await instances[0].bus.broadcast('placement:dirty', 'ws')
    await until(async () => [...(await copies(admin)).values()].every(n => n.length === 2), 'every pin placed')
    const placed = await copies(admin)
    expect([...placed.values()].flat()).toHaveLength(20)
    for (const nodes of placed.values()) expect(new Set(nodes).size).toBe(2)

    // every copy was announced to its node, wherever its session lives: a sent to b's and c's nodes
    const announced = (): string[] => [...childInbox, ...instances.flatMap(i => i.inbox)]
      .map(m => `${(m.message as { cid: string }).cid}@${m.nodeId}`).sort()
    await until(async () => announced().length === 20, 'twenty pin_content messages')
    expect(announced()).toEqual([...placed].flatMap(([cid, nodes]) => nodes.map(n => `${cid}@${n}`)).sort())
    // the free space spreads the copies over the three instances' nodes
    const perInstance = [childInbox.length, instances[0].inbox.length, instances[1].inbox.length]
    expect(perInstance.every(n => n > 0)).toBe(true)

    // kill -9 the leader: b or c takes the lease and moves the copies of n1 and n2 (gone with a)
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
    await Promise.race(instances.map(async i => { await i.lease.waitUntilLeader({ signal: AbortSignal.timeout(15_000) }) }))
    const leader = instances.find(i => i.lease.isLeader)!
    expect(instances.filter(i => i.lease.isLeader)).toHaveLength(1)
    // a's bus session may end a moment after its lease: once its nodes show offline, ask for a run (the wiring re-checks on a timer)
    await until(async () => (await leader.bus.onlineNodes()).size === 4, 'n1 and n2 offline')
    await leader.bus.broadcast('placement:dirty', 'ws')
    await until(async () => await placedOnlyOn(admin, ['n3', 'n4', 'n5', 'n6']), 'copies moved off the dead instance\'s nodes')

    // a node lost after the failover (n5 disconnects from c) is re-pinned too
    await instances[1].bus.release('n5')
    await instances[1].bus.broadcast('placement:dirty', 'ws')
    await until(async () => await placedOnlyOn(admin, ['n3', 'n4', 'n6']), 'n5\'s copies re-pinned')
    await leader.placed()
    expect([...(await copies(admin)).values()].flat()).toHaveLength(20)
  })
})
