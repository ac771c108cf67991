/**
 * The event relay on a real PostgreSQL: two instances' buses, each with a
 * relay between its local listeners and the bus. Events made on one reach the
 * other in order and exactly once, are never relayed back (no loop), and a
 * batch larger than one NOTIFY is split into payloads of at most 6000 bytes
 * that arrive whole; a node announced offline by the bus view and by its
 * (late) instance shows offline once.
 */
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createEventRelay, RELAY_MAX_BYTES, RELAY_TOPIC } from '../src/orchestrator/cluster/event-relay.js'
import type { EventRelay } from '../src/orchestrator/cluster/event-relay.js'
import { BUS_CHANNEL, createClusterBus } from '../src/orchestrator/pg/postgres-bus.js'
import type { ClusterBus } from '../src/orchestrator/pg/postgres-bus.js'
import type { OrchestratorEvent } from '../src/orchestrator/types.js'
import { logCleanupError } from './helpers/cleanup.js'
import { usePostgres } from './helpers/postgres.js'

const postgres = usePostgres()

/** One instance's side: its bus, its local emitter, what its listeners saw (local and relayed). */
interface Side {
  bus: ClusterBus
  relay: EventRelay
  emit: (event: OrchestratorEvent) => void
  seen: OrchestratorEvent[]
}

async function side (url: string, instanceId: string): Promise<Side> {
  const bus = createClusterBus({ connectionString: url, instanceId })
  await bus.start()
  const listeners = new Set<(event: OrchestratorEvent) => void>()
  const seen: OrchestratorEvent[] = []
  listeners.add(e => { seen.push(e) })
  const emit = (event: OrchestratorEvent): void => { for (const l of listeners) l(event) }
  const relay = createEventRelay({
    bus,
    subscribe: (l) => { listeners.add(l); return () => { listeners.delete(l) } },
    deliver: emit
  })
  return { bus, relay, emit, seen }
}

describe.skipIf(postgres.skip != null)('postgres: the event relay between instances', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterAll(async () => { for (const fn of cleanup.reverse()) await Promise.resolve(fn()).catch(logCleanupError) })

  /** Every NOTIFY payload of the relay topic, as the server delivered it. */
  async function tap (url: string): Promise<Array<{ bytes: number, from: string, events: OrchestratorEvent[] }>> {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    cleanup.push(async () => { await client.end() })
    const notes: Array<{ bytes: number, from: string, events: OrchestratorEvent[] }> = []
    client.on('notification', (msg) => {
      const note = JSON.parse(msg.payload ?? '{}')
      if (note.topic === RELAY_TOPIC) notes.push({ bytes: Buffer.byteLength(msg.payload ?? ''), from: note.from, events: JSON.parse(note.data) })
    })
    await client.query(`LISTEN ${BUS_CHANNEL}`)
    return notes
  }

  async function pair (): Promise<{ a: Side, b: Side, notes: Awaited<ReturnType<typeof tap>> }> {
    const url = await postgres.createDatabase()
    const a = await side(url, 'relay-a')
    const b = await side(url, 'relay-b')
    cleanup.push(async () => { for (const s of [a, b]) { await s.relay.stop(); await s.bus.stop() } })
    return { a, b, notes: await tap(url) }
  }

  it('relays local events to the other instance in order, once, and never back', async () => {
    const { a, b, notes } = await pair()
    const made: OrchestratorEvent[] = [
      { type: 'pin:added', workspaceId: 'ws', cid: 'bafy1' },
      { type: 'allocation', workspaceId: 'ws', cid: 'bafy1', nodeId: 'n1', state: 'pinning' },
      { type: 'node:online', nodeId: 'n2' }
    ]
    for (const e of made) a.emit(e)
    await a.relay.flush()
    await expect.poll(() => b.seen.length).toBe(3)
    expect(b.seen).toEqual(made)
    // b's listeners got them: b relays nothing (a relayed event is not relayed again)
    const later: OrchestratorEvent = { type: 'pin:removed', workspaceId: 'ws', cid: 'bafy1' }
    b.emit(later)
    await b.relay.flush()
    await expect.poll(() => a.seen.length).toBe(4)
    expect(a.seen).toEqual([...made, later])
    expect(b.seen).toEqual([...made, later])
    await expect.poll(() => notes.length).toBe(2)
    expect(notes.map(n => [n.from, n.events.length])).toEqual([['relay-a', 3], ['relay-b', 1]])
  })

  it('splits a batch larger than one NOTIFY into payloads of at most 6000 bytes, all arriving in order', async () => {
    const { a, b, notes } = await pair()
    // about 40 kB of events in one batch window; quotes inside make the escaping count
    const made: OrchestratorEvent[] = []
    for (let i = 0; i < 300; i++) {
      made.push({ type: 'allocation', workspaceId: 'ws', cid: `bafy"${String(i).padStart(4, '0')}`, nodeId: `node-${i % 7}`, state: 'failed', error: { code: 'ERR_TIMEOUT', message: `"timed out" after ${i} ms` } })
    }
    for (const e of made) a.emit(e)
    await a.relay.flush()
    await expect.poll(() => b.seen.length, { timeout: 10_000 }).toBe(made.length)
    expect(b.seen).toEqual(made)
    // the tap listens on a connection of its own: its last notifications may come after b's
    await expect.poll(() => notes.reduce((n, note) => n + note.events.length, 0), { timeout: 10_000 }).toBe(made.length)
    expect(notes.length).toBeGreaterThan(5)
    for (const n of notes) expect(n.bytes).toBeLessThanOrEqual(RELAY_MAX_BYTES)
    expect(notes.flatMap(n => n.events)).toEqual(made)
  })

  it('shows a node offline once when both the bus view and its instance tell', async () => {
    const { a, b, notes } = await pair()
    // b noticed that n9's instance vanished; a's late word comes after: one offline on b
    b.relay.nodeVanished('n9')
    a.emit({ type: 'node:offline', nodeId: 'n9' })
    a.emit({ type: 'node:online', nodeId: 'n9' })
    a.emit({ type: 'node:offline', nodeId: 'n9' })
    await a.relay.flush()
    await expect.poll(() => b.seen.length).toBe(3)
    expect(b.seen).toEqual([{ type: 'node:offline', nodeId: 'n9' }, { type: 'node:online', nodeId: 'n9' }, { type: 'node:offline', nodeId: 'n9' }])
    // the bus view now agrees with what b was told: nothing more
    b.relay.nodeVanished('n9')
    expect(b.seen).toHaveLength(3)
    // what b's listeners were told by the bus view is not relayed to a
    await b.relay.flush()
    expect(notes.filter(n => n.from === 'relay-b')).toEqual([])
    expect(a.seen.filter(e => e.type === 'node:offline')).toHaveLength(2)
  })
})
