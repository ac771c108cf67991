/**
 * The replication rules, without WebSockets or sleeps: the pure planner, and
 * the orchestrator core over a ':memory:' store with in-memory connections
 * and a manual clock and scheduler (time moves only when the test says so).
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { createManualTime, createOrchestratorCore, openOrchestratorStore, planPin, planPinSync, countsAsCopy } from '../src/orchestrator/index.js'
import type { HubSession, ManualTime, NodeConnection, OrchestratorCore, OrchestratorStore, PlacementSnapshot, AllocationRow } from '../src/orchestrator/index.js'
import { PROTOCOL_VERSION } from '../src/protocol/index.js'

const CIDS = [
  'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
  'bafkreidivzimqfqtoqxkrpge6bjyhlvxqs3rhe73owtmdulaxr5do5in7u',
  'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
]
const PEERS = ['12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq']
const GRACE = 60_000

type Msg = Record<string, any> & { type: string }

function snapshot (over: Partial<PlacementSnapshot> = {}): PlacementSnapshot {
  return {
    members: new Set(['a', 'b', 'c']),
    ready: ['a', 'b', 'c'],
    isOnline: () => true,
    offlineSince: new Map(),
    startedAt: 0,
    repinGraceMs: GRACE,
    free: new Map([['a', 100], ['b', 300], ['c', 200]]),
    ...over
  }
}

function alloc (nodeId: string, state: AllocationRow['state'], cid = CIDS[0]): AllocationRow {
  return { workspace_id: 'w', cid, node_id: nodeId, state, error: null, updated_at: 0 }
}

describe('placement planner (pure)', () => {
  it('allocates to the ready members with the most free space that fit, skipping allocated ones', () => {
    expect(planPin({ replicationMin: 1, replicationMax: 2, size: null, allocations: [] }, snapshot(), 0).allocate)
      .toEqual([{ nodeId: 'b', state: 'pinning' }, { nodeId: 'c', state: 'pinning' }])
    expect(planPin({ replicationMin: 1, replicationMax: 2, size: 250, allocations: [] }, snapshot(), 0))
      .toEqual({ allocate: [{ nodeId: 'b', state: 'pinning' }], drop: [], underReplicated: false })
    const plan = planPin({ replicationMin: 2, replicationMax: 2, size: null, allocations: [alloc('b', 'unpinning')] }, snapshot({ ready: ['a', 'b'] }), 0)
    expect(plan).toEqual({ allocate: [{ nodeId: 'a', state: 'pinning' }], drop: [], underReplicated: true })
  })

  it('puts a replicationMax -1 pin on every member, queued where not ready', () => {
    const plan = planPin({ replicationMin: 1, replicationMax: -1, size: null, allocations: [alloc('a', 'pinned')] }, snapshot({ ready: ['a', 'b'] }), 0)
    expect(plan.allocate).toEqual([{ nodeId: 'b', state: 'pinning' }, { nodeId: 'c', state: 'queued' }])
  })

  it('sends a queued copy once its node is ready (a pin_sync that read before the queued row was written)', () => {
    const pin = { replicationMin: 1, replicationMax: -1, size: null, allocations: [alloc('a', 'pinned'), alloc('b', 'queued'), alloc('c', 'queued')] }
    expect(planPin(pin, snapshot({ ready: ['a', 'b'] }), 0).allocate).toEqual([{ nodeId: 'b', state: 'pinning' }])
    expect(planPin(pin, snapshot({ ready: ['a'] }), 0).allocate).toEqual([])
  })

  it('stops counting a copy once its node is offline past the grace period, and re-places it', () => {
    const offline = snapshot({ isOnline: id => id !== 'b', offlineSince: new Map([['b', 1000]]), ready: ['a', 'c'] })
    expect(countsAsCopy(offline, 'b', 1000 + GRACE - 1)).toBe(true)
    expect(countsAsCopy(offline, 'b', 1000 + GRACE)).toBe(false)
    const pin = { replicationMin: 2, replicationMax: 2, size: null, allocations: [alloc('a', 'pinned'), alloc('b', 'pinned')] }
    expect(planPin(pin, offline, 1000 + GRACE - 1).allocate).toEqual([])
    expect(planPin(pin, offline, 1000 + GRACE).allocate).toEqual([{ nodeId: 'c', state: 'pinning' }])
  })

  it('drops the surplus: unconfirmed copies first, then the least free space', () => {
    const pin = { replicationMin: 1, replicationMax: 1, size: null, allocations: [alloc('a', 'pinned'), alloc('b', 'pinned'), alloc('c', 'pinning')] }
    expect(planPin(pin, snapshot(), 0).drop.sort()).toEqual(['a', 'c'])
  })

  it('reconciles a pin_sync: confirms, asks again, forgets, finishes unpins, unpins unknown copies, adopts', () => {
    const allocations = [
      { cid: 'held', state: 'pinning' as const },
      { cid: 'lost', state: 'pinned' as const },
      { cid: 'gone', state: 'pinned' as const },
      { cid: 'dropped', state: 'unpinning' as const },
      { cid: 'dropping', state: 'unpinning' as const },
      { cid: 'retried', state: 'failed' as const }
    ]
    const have = new Set(['held', 'dropping', 'retried', 'stray', 'adopted'])
    const pinned = new Set(['held', 'lost', 'retried', 'adopted'])
    expect(planPinSync(allocations, have, cid => pinned.has(cid))).toEqual([
      { op: 'set', cid: 'held', state: 'pinned' },
      { op: 'repin', cid: 'lost' },
      { op: 'forget', cid: 'gone' },
      { op: 'removed', cid: 'dropped' },
      { op: 'unpin', cid: 'dropping' },
      { op: 'set', cid: 'retried', state: 'pinned' },
      { op: 'unpin', cid: 'stray' },
      { op: 'set', cid: 'adopted', state: 'pinned' }
    ])
  })
})

/** An in-memory connection that records what the orchestrator sends. */
class FakeConnection implements NodeConnection {
  readonly messages: Msg[] = []
  closed: number | undefined
  send (data: string, cb?: (err?: Error) => void): void { this.messages.push(JSON.parse(data)); cb?.() }
  close (code: number): void { this.closed = code }
  isOpen (): boolean { return this.closed === undefined }
  of (type: string): Msg[] { return this.messages.filter(m => m.type === type) }
  take (): Msg[] { return this.messages.splice(0) }
}

describe('orchestrator core (manual clock, in-memory connections)', () => {
  let time: ManualTime
  let store: OrchestratorStore
  let core: OrchestratorCore
  let tokens: string[]
  let ids: string[]

  beforeEach(async () => {
    time = createManualTime(1_000_000)
    store = openOrchestratorStore({ path: ':memory:' })
    core = await createOrchestratorCore({ store, clock: time, scheduler: time, repinGraceMs: GRACE })
    await core.createWorkspace({ id: 'w', name: 'W' })
    tokens = []
    ids = []
    for (const name of ['a', 'b', 'c']) {
      const { node, token } = await core.createNode({ name })
      await core.addMember('w', node.id)
      tokens.push(token)
      ids.push(node.id)
    }
  })

  afterEach(() => {
    core.close()
    store.close()
  })

  const send = async (session: HubSession, ...msgs: object[]): Promise<void> => {
    await core.hub.receive(msgs.map(m => ({ session, data: JSON.stringify(m) })))
  }

  /** Moves the manual clock, then waits for the work its timers started (placement runs are asynchronous). */
  const advance = async (ms: number): Promise<void> => {
    time.advance(ms)
    await core.idle()
  }

  /** Connects node i, reports `free` bytes and makes it ready with `cids`. */
  const join = async (i: number, free: number, cids: string[] = []): Promise<{ conn: FakeConnection, session: HubSession }> => {
    const conn = new FakeConnection()
    const session = core.hub.accept(conn)
    await send(session,
      { type: 'hello', protocol_version: PROTOCOL_VERSION, token: tokens[i] },
      { type: 'storage_report', used: 0, quota: free, free, workspaces: [] },
      { type: 'ipfs_ready', workspace_id: 'w', peer_id: PEERS[i], addresses: [`/ip4/127.0.0.1/tcp/${4001 + i}`] },
      { type: 'pin_sync', workspace_id: 'w', cids })
    expect(conn.of('welcome')).toHaveLength(1)
    return { conn, session }
  }

  it('refuses a bad token and closes a silent connection after the auth timeout', async () => {
    const bad = new FakeConnection()
    await send(core.hub.accept(bad), { type: 'hello', protocol_version: PROTOCOL_VERSION, token: 'ot_nope' })
    expect(bad.of('error')[0]).toMatchObject({ code: 'ERR_UNAUTHORIZED' })
    expect(bad.closed).toBe(4001)
    const silent = new FakeConnection()
    core.hub.accept(silent)
    await advance(9_999)
    expect(silent.closed).toBeUndefined()
    await advance(1)
    expect(silent.closed).toBe(4008)
  })

  it('places a pin, re-pins after the grace period (copies stop counting), trims the surplus when the node returns', async () => {
    const a = await join(0, 300)
    const b = await join(1, 200)
    const c = await join(2, 100)
    await core.pin('w', { cid: CIDS[0], replicationMin: 2 })
    expect(a.conn.of('pin_content')).toHaveLength(1)
    expect(b.conn.of('pin_content')).toHaveLength(1)
    expect(c.conn.of('pin_content')).toHaveLength(0)
    await send(a.session, { type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 10 })
    await send(b.session, { type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 10 })
    expect(await core.pinStatus('w', CIDS[0])).toMatchObject({ copies: 2, status: 'pinned' })

    // a goes away: its copy counts during the grace period, then not
    await core.hub.closed(a.session)
    await advance(GRACE - 1)
    expect(c.conn.of('pin_content')).toHaveLength(0)
    expect((await core.pinStatus('w', CIDS[0])).copies).toBe(2)
    await advance(100)
    expect(await core.pinStatus('w', CIDS[0])).toMatchObject({ copies: 1, status: 'pinning' })
    expect(c.conn.of('pin_content')).toHaveLength(1)
    await send(c.session, { type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 10 })
    expect(await core.pinStatus('w', CIDS[0])).toMatchObject({ copies: 2, status: 'pinned' })

    // a comes back with its copy: three copies for two wanted, the one with the least free space goes
    const back = await join(0, 300, [CIDS[0]])
    await advance(20)
    expect(c.conn.of('unpin_content')).toEqual([{ type: 'unpin_content', workspace_id: 'w', cid: CIDS[0] }])
    expect(back.conn.of('unpin_content')).toHaveLength(0)
    await send(c.session, { type: 'content_unpinned', workspace_id: 'w', cid: CIDS[0] })
    expect((await core.pinStatus('w', CIDS[0])).allocations.map(x => x.nodeId).sort()).toEqual([ids[0], ids[1]].sort())
  })

  it('reconciles pin_sync: a lost copy is asked again, an unknown one is unpinned, a held one is adopted', async () => {
    const a = await join(0, 300)
    await core.pin('w', { cid: CIDS[0], replicationMin: 1 })
    await core.pin('w', { cid: CIDS[1], replicationMin: 1 })
    await send(a.session, { type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 1 })
    a.conn.take()
    // after a restart of the node: it lost CIDS[0], kept CIDS[1] (still 'pinning' here) and holds a stray CIDS[2]
    await send(a.session, { type: 'pin_sync', workspace_id: 'w', cids: [CIDS[1], CIDS[2]] })
    expect(a.conn.of('pin_content').map(m => m.cid)).toEqual([CIDS[0]])
    expect(a.conn.of('unpin_content').map(m => m.cid)).toEqual([CIDS[2]])
    expect((await core.pinStatus('w', CIDS[1])).allocations).toMatchObject([{ nodeId: ids[0], state: 'pinned' }])
  })

  it('pins on a chosen node (max grows so the copy stays), unpins from one only while min still holds', async () => {
    const a = await join(0, 300)
    const b = await join(1, 200)
    await core.pin('w', { cid: CIDS[0], replicationMin: 1 })
    expect(a.conn.of('pin_content')).toHaveLength(1)
    await send(a.session, { type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 1 })
    expect(await core.pinOnNode('w', ids[1], { cid: CIDS[0] })).toMatchObject({ replicationMax: 2 })
    expect(b.conn.of('pin_content')).toHaveLength(1)
    // an offline member gets a queued allocation, sent on its pin_sync
    expect((await core.pinOnNode('w', ids[2], { cid: CIDS[0] })).allocations.find(x => x.nodeId === ids[2])?.state).toBe('queued')
    await core.unpinOnNode('w', ids[0], CIDS[0])
    expect(a.conn.of('unpin_content')).toHaveLength(1)
    expect((await core.pinStatus('w', CIDS[0])).replicationMax).toBe(2)
    // min 2 with one ready copy left: nobody else online can take it
    await core.pin('w', { cid: CIDS[1], replicationMin: 1 })
    const holder = [a, b].find(x => x.conn.of('pin_content').some(m => m.cid === CIDS[1]))
    expect(holder).toBeDefined()
    const holderId = holder === a ? ids[0] : ids[1]
    await core.hub.closed((holder === a ? b : a).session)
    await expect(core.unpinOnNode('w', holderId, CIDS[1])).rejects.toThrow(expect.objectContaining({ code: 'ERR_CONFLICT' }))
  })

  it('commits a batch before any answer is sent, and a failing frame rolls back alone', async () => {
    const a = await join(0, 300)
    await core.pin('w', { cid: CIDS[0] })
    let seenCommitted: boolean | undefined
    core.onChange(event => {
      if (event.type === 'allocation' && event.state === 'pinned') {
        // listeners run after the commit: a second reader would see the row
        seenCommitted = !(store as unknown as { db: { inTransaction: boolean } }).db.inTransaction
      }
    })
    await send(a.session,
      { type: 'content_pinned', workspace_id: 'w', cid: CIDS[0], size: 1 },
      { type: 'pin_sync', workspace_id: 'w', cids: ['not a cid'] })
    expect(seenCommitted).toBe(true)
    expect((await core.pinStatus('w', CIDS[0])).copies).toBe(1)
    expect(a.conn.of('error').length).toBeGreaterThan(0)
  })
})
