/**
 * The cross-instance bus on a real PostgreSQL: a message for a node held by
 * another instance reaches it, in order, exactly once, whatever its size;
 * broadcasts reach every instance; a listener that reconnects gets what it
 * missed; a node that moves tells its old instance.
 */
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { createClusterBus, MAX_NOTIFY_BYTES } from '../src/orchestrator/pg/postgres-bus.js'
import { sql, usePostgres } from './helpers/postgres.js'
import type { BroadcastDetail, ClusterBus, NodeMessageDetail } from '../src/orchestrator/pg/postgres-bus.js'

const postgres = usePostgres()

/** Collects a bus's node messages; `next(n)` resolves once `n` have arrived. */
function inbox (bus: ClusterBus): { messages: NodeMessageDetail[], next: (count: number) => Promise<NodeMessageDetail[]> } {
  const messages: NodeMessageDetail[] = []
  let waiter: { count: number, resolve: () => void } | undefined
  bus.addEventListener('node-message', (evt) => {
    messages.push((evt as CustomEvent<NodeMessageDetail>).detail)
    if (waiter != null && messages.length >= waiter.count) waiter.resolve()
  })
  return {
    messages,
    async next (count) {
      if (messages.length < count) await new Promise<void>(resolve => { waiter = { count, resolve } })
      return messages.slice(0, count)
    }
  }
}

describe.skipIf(postgres.skip != null)('postgres cluster bus', () => {
  const buses: ClusterBus[] = []
  afterEach(async () => { await Promise.all(buses.splice(0).map(async b => { await b.stop() })) })

  async function bus (url: string, instanceId: string): Promise<ClusterBus> {
    const b = createClusterBus({ connectionString: url, instanceId, reconnectMs: 50 })
    buses.push(b)
    await b.start()
    return b
  }

  it('delivers a message for a node held by another instance, in order, exactly once', async () => {
    const url = await postgres.createDatabase()
    const [a, b] = await Promise.all([bus(url, 'a'), bus(url, 'b')])
    const atA = inbox(a)
    const atB = inbox(b)
    await b.hold('node-1')
    expect(await a.holderOf('node-1')).toBe('b')

    const sent = []
    for (let i = 0; i < 50; i++) sent.push(await a.sendToNode('node-1', { type: 'pin_content', seq: i }))
    expect(new Set(sent)).toEqual(new Set(['remote']))
    const got = await atB.next(50)
    expect(got.map(m => (m.message as { seq: number }).seq)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(got.every(m => m.nodeId === 'node-1')).toBe(true)
    expect(atA.messages).toEqual([])
    expect(await sql(url, 'SELECT * FROM cluster_messages')).toEqual([])
  })

  it('carries messages far over the NOTIFY payload limit (the notification holds only an id)', async () => {
    const url = await postgres.createDatabase()
    const [a, b] = await Promise.all([bus(url, 'a'), bus(url, 'b')])
    const atB = inbox(b)
    await b.hold('node-1')
    const big = { type: 'bootstrap_update', peers: Array.from({ length: 2000 }, (_, i) => `/ip4/127.0.0.1/tcp/${4000 + i}/p2p/12D3KooWpeer${i}`) }
    expect(JSON.stringify(big).length).toBeGreaterThan(10 * MAX_NOTIFY_BYTES)
    expect(await a.sendToNode('node-1', big)).toBe('remote')
    expect((await atB.next(1))[0].message).toEqual(big)
  })

  it('delivers locally for a node this instance holds, and reports a node nobody holds as offline', async () => {
    const url = await postgres.createDatabase()
    const a = await bus(url, 'a')
    const atA = inbox(a)
    await a.hold('mine')
    expect(await a.sendToNode('mine', { type: 'x' })).toBe('local')
    expect(atA.messages).toEqual([{ nodeId: 'mine', message: { type: 'x' } }])
    expect(await a.sendToNode('nobody', { type: 'x' })).toBe('offline')
    await a.release('mine')
    expect(await a.holderOf('mine')).toBeUndefined()
    expect(await a.sendToNode('mine', { type: 'x' })).toBe('offline')
    await expect(a.sendToNode('', {})).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
  })

  it('broadcasts to every instance, and refuses a payload over the NOTIFY limit', async () => {
    const url = await postgres.createDatabase()
    const [a, b, c] = await Promise.all([bus(url, 'a'), bus(url, 'b'), bus(url, 'c')])
    const heard = [a, b, c].map(async x => (await once(x, 'broadcast'))[0] as CustomEvent<BroadcastDetail>)
    await b.broadcast('placement:dirty', 'ws1')
    for (const evt of await Promise.all(heard)) expect(evt.detail).toEqual({ topic: 'placement:dirty', data: 'ws1', from: 'b' })
    await expect(a.broadcast('too-big', 'x'.repeat(MAX_NOTIFY_BYTES))).rejects.toMatchObject({ name: 'InvalidArgumentError', code: 'ERR_INVALID_ARGUMENT' })
  })

  it('gets what was sent while its listener was disconnected, once it reconnects', async () => {
    const url = await postgres.createDatabase()
    const [a, b] = await Promise.all([bus(url, 'a'), bus(url, 'b')])
    const atB = inbox(b)
    await b.hold('node-1')
    const relistened = once(b, 'listening')
    const [killed] = await sql(url, "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'otherthing-bus:b'")
    expect(killed.ok).toBe(true)
    // sent while b may have no listening session: queued in the table, not lost with the notification
    expect(await a.sendToNode('node-1', { seq: 1 })).toBe('remote')
    expect(await a.sendToNode('node-1', { seq: 2 })).toBe('remote')
    await relistened
    expect((await atB.next(2)).map(m => m.message)).toEqual([{ seq: 1 }, { seq: 2 }])
  })

  it('moves a node to the instance it reconnected to, telling the old one, and lists online nodes by live instance', async () => {
    const url = await postgres.createDatabase()
    const [a, b] = await Promise.all([bus(url, 'a'), bus(url, 'b')])
    await a.hold('node-1')
    await a.hold('node-2')
    await b.hold('node-3')
    expect([...(await b.onlineNodes())]).toEqual([['node-1', 'a'], ['node-2', 'a'], ['node-3', 'b']])

    const taken = once(a, 'node-taken')
    await b.hold('node-1')
    expect(((await taken)[0] as CustomEvent).detail).toEqual({ nodeId: 'node-1', by: 'b' })
    expect(await a.holderOf('node-1')).toBe('b')
    const atB = inbox(b)
    expect(await a.sendToNode('node-1', { after: 'move' })).toBe('remote')
    expect((await atB.next(1))[0]).toEqual({ nodeId: 'node-1', message: { after: 'move' } })

    // a crashed instance leaves its rows behind (as this one, 'ghost', did), but its nodes are not online
    await sql(url, "INSERT INTO cluster_node_holders (node_id, instance_id, since) VALUES ('node-9', 'ghost', 0)")
    expect(await b.holderOf('node-9')).toBe('ghost')
    expect((await b.onlineNodes()).has('node-9')).toBe(false)
    // one that stops lets go of its nodes
    await a.stop()
    expect([...(await b.onlineNodes())]).toEqual([['node-1', 'b'], ['node-3', 'b']])
    expect(await b.holderOf('node-2')).toBeUndefined()
  })
})
