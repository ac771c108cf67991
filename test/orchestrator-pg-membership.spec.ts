/**
 * PostgreSQL: a placement, and a node's workspace message, race a membership
 * removal made on another connection (another instance's removeMember, whose
 * event has not reached this instance yet).
 *
 * The placement writes its allocations with `setMemberAllocations` (each
 * membership checked and locked by that statement): it waits for the removal,
 * then leaves the removed node out (no allocation, no `pin_content`), takes it
 * out of its member set and places the pin on another member.
 *
 * A node's workspace message races a membership removal made on
 * another connection (another instance's removeMember). The membership check
 * is part of the handler's own statement (ipfs_ready: the peer upsert;
 * content_pinned: the grouped read; pin_sync: the read of the node's
 * allocations; pin_failed, content_unpinned: the read of its allocation),
 * with the membership row held FOR SHARE:
 * the message waits for the removal, then is refused with ERR_FORBIDDEN,
 * never failing on the foreign keys with ERR_INTERNAL. The removal is held
 * open here (an uncommitted DELETE) until the message is seen waiting on it.
 *
 * A pin made while its node becomes ready: the pin's transaction planned a
 * `queued` copy (node offline), the node's `pin_sync` and the placement it
 * schedules read before that commit; the commit's re-check sends the copy.
 * The pin's write is held back here by a table lock on `pin_allocations`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import pg from 'pg'
import WebSocket from 'ws'
import { createOrchestrator } from '../src/orchestrator/index.js'
import type { Orchestrator } from '../src/orchestrator/index.js'
import { PROTOCOL_VERSION } from '../src/protocol/index.js'
import { sql, usePostgres } from './helpers/postgres.js'

const postgres = usePostgres()
const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

type Msg = Record<string, any> & { type: string }

interface SimNode {
  send: (m: unknown) => void
  /** The first message (after `skip` matches) that satisfies `pred`, waiting for it. */
  next: (pred: (m: Msg) => boolean, skip?: number) => Promise<Msg>
  count: (pred: (m: Msg) => boolean) => number
  ws: WebSocket
}

async function node (url: string): Promise<SimNode> {
  const ws = new WebSocket(url)
  const messages: Msg[] = []
  const waiters: Array<() => void> = []
  ws.on('message', raw => { messages.push(JSON.parse(raw.toString())); for (const w of waiters.splice(0)) w() })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return {
    ws,
    send: (m) => { ws.send(JSON.stringify(m)) },
    next: async (pred, skip = 0) => {
      for (;;) {
        const found = messages.filter(pred)[skip]
        if (found != null) return found
        await new Promise<void>(resolve => waiters.push(resolve))
      }
    },
    count: (pred) => messages.filter(pred).length
  }
}

/** Waits until a backend waits on a row lock. */
async function lockWaiter (database: string): Promise<void> {
  for (;;) {
    const rows = await sql(database, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
    if (rows.length > 0) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function ready (url: string, token: string, free: number): Promise<SimNode> {
  const n = await node(url)
  n.send({ type: 'hello', protocol_version: PROTOCOL_VERSION, token })
  await n.next(m => m.type === 'workspace_joined')
  n.send({ type: 'storage_report', used: 0, quota: free, free, workspaces: [] })
  n.send({ type: 'ipfs_ready', workspace_id: 'w', peer_id: PEER, addresses: ['/ip4/127.0.0.1/tcp/4001'] })
  await answered(n)
  return n
}

/** Everything the orchestrator sent this node before it answered a second hello has arrived. */
async function answered (n: SimNode): Promise<void> {
  const count = n.count(m => m.type === 'error' && m.in_reply_to === 'hello')
  n.send({ type: 'hello', protocol_version: PROTOCOL_VERSION, token: 'again' })
  await n.next(m => m.type === 'error' && m.in_reply_to === 'hello', count)
}

describe.skipIf(postgres.skip != null)('orchestrator on PostgreSQL: racing a membership removal', () => {
  let orch: Orchestrator | undefined
  const sockets: WebSocket[] = []
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.terminate()
    await orch?.stop()
  })

  it('a placement waits for the removal, then writes and sends nothing for the removed node and places the pin on another member', async () => {
    const database = await postgres.createDatabase()
    orch = createOrchestrator({ database, port: 0 })
    const { url } = await orch.start()
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const kept = await orch.createNode({ name: 'kept' })
    const removed = await orch.createNode({ name: 'removed' })
    await orch.addMember('w', kept.node.id)
    await orch.addMember('w', removed.node.id)
    // the node to be removed has the most room: the placement picks it while it still counts it a member
    const k = await ready(url, kept.token, 1_000_000)
    const r = await ready(url, removed.token, 9_000_000)
    sockets.push(k.ws, r.ws)
    await orch.settled()
    const other = new pg.Client({ connectionString: database })
    await other.connect()
    try {
      // another instance's removeMember, held open: its DELETE holds the membership row until it commits
      await other.query('BEGIN')
      await other.query("SELECT 1 FROM memberships WHERE workspace_id = 'w' AND node_id = $1 FOR SHARE", [removed.node.id])
      await other.query("DELETE FROM memberships WHERE workspace_id = 'w' AND node_id = $1", [removed.node.id])
      await other.query("DELETE FROM pin_allocations WHERE workspace_id = 'w' AND node_id = $1", [removed.node.id])
      const pinned = orch.pin('w', { cid: CID, replicationMin: 1 })
      await Promise.race([lockWaiter(database), pinned.then(() => { throw new Error('the placement did not wait for the removal') })])
      await other.query('COMMIT')
      const status = await pinned
      expect(status.allocations.map(a => a.nodeId)).not.toContain(removed.node.id)
    } finally {
      await other.end()
    }
    await orch.settled()
    expect(await sql(database, "SELECT node_id, state FROM pin_allocations WHERE workspace_id = 'w'")).toEqual([{ node_id: kept.node.id, state: 'pinning' }])
    await k.next(m => m.type === 'pin_content' && m.cid === CID)
    await answered(r)
    expect(r.count(m => m.type === 'pin_content')).toBe(0)
    expect((await orch.pinStatus('w', CID)).allocations.map(a => a.nodeId)).toEqual([kept.node.id])
  })

  const messages = {
    ipfs_ready: { type: 'ipfs_ready', workspace_id: 'w', peer_id: PEER, addresses: ['/ip4/127.0.0.1/tcp/4001'] },
    content_pinned: { type: 'content_pinned', workspace_id: 'w', cid: CID, size: 10 },
    pin_sync: { type: 'pin_sync', workspace_id: 'w', cids: [CID] },
    pin_failed: { type: 'pin_failed', workspace_id: 'w', cid: CID, error: { code: 'ERR_TIMEOUT', message: 'no provider' } },
    content_unpinned: { type: 'content_unpinned', workspace_id: 'w', cid: CID }
  } as const
  for (const type of Object.keys(messages) as Array<keyof typeof messages>) {
    it(`${type} waits for the removal, then gets ERR_FORBIDDEN`, async () => {
      const database = await postgres.createDatabase()
      orch = createOrchestrator({ database, port: 0 })
      const { url } = await orch.start()
      await orch.createWorkspace({ id: 'w', name: 'W' })
      const { node: info, token } = await orch.createNode({ name: 'n' })
      await orch.addMember('w', info.id)
      const n = await node(url)
      sockets.push(n.ws)
      n.send({ type: 'hello', protocol_version: PROTOCOL_VERSION, token })
      await n.next(m => m.type === 'workspace_joined')
      if (type !== 'ipfs_ready') {
        n.send({ type: 'ipfs_ready', workspace_id: 'w', peer_id: PEER, addresses: ['/ip4/127.0.0.1/tcp/4001'] })
        // a second hello is answered after the ipfs_ready is handled: the node is ready for the pin
        n.send({ type: 'hello', protocol_version: PROTOCOL_VERSION, token })
        await n.next(m => m.type === 'error' && m.in_reply_to === 'hello')
        await orch.pin('w', { cid: CID, replicationMin: 1 })
        await n.next(m => m.type === 'pin_content')
      }
      // what the orchestrator does on its own (placement batches after the pin and the ipfs_ready)
      // done first: the race under test is the node's message against the removal
      await orch.settled()
      // another instance removes the membership: its DELETE holds the row until it commits
      const other = new pg.Client({ connectionString: database })
      await other.connect()
      try {
        await other.query('BEGIN')
        await other.query("DELETE FROM pin_allocations WHERE workspace_id = 'w' AND node_id = $1", [info.id])
        await other.query("DELETE FROM memberships WHERE workspace_id = 'w' AND node_id = $1", [info.id])
        n.send(messages[type])
        await lockWaiter(database)
        await other.query('COMMIT')
      } finally {
        await other.end()
      }
      const answer = await n.next(m => m.type === 'error' && m.in_reply_to !== 'hello')
      expect(answer).toMatchObject({ code: 'ERR_FORBIDDEN', in_reply_to: type })
      expect(await sql(database, "SELECT * FROM pin_allocations WHERE workspace_id = 'w'")).toEqual([])
    })
  }
})

describe.skipIf(postgres.skip != null)('orchestrator on PostgreSQL: a pin made while its node becomes ready', () => {
  let orch: Orchestrator | undefined
  const sockets: WebSocket[] = []
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.terminate()
    await orch?.stop()
  })

  it('sends the copy it queued for a node that became ready before the commit (whose pin_sync read before it)', async () => {
    const database = await postgres.createDatabase()
    orch = createOrchestrator({ database, port: 0 })
    const { url } = await orch.start()
    await orch.createWorkspace({ id: 'w', name: 'W' })
    const { node: info, token } = await orch.createNode({ name: 'late' })
    await orch.addMember('w', info.id)
    await orch.settled()
    const other = new pg.Client({ connectionString: database })
    await other.connect()
    let n: SimNode
    try {
      // the pin's transaction planned a queued copy (the node is offline), then waits to write it
      await other.query('BEGIN')
      await other.query('LOCK TABLE pin_allocations IN SHARE MODE')
      const pinned = orch.pin('w', { cid: CID, replicationMin: 1, replicationMax: -1 })
      await Promise.race([lockWaiter(database), pinned.then(() => { throw new Error('the pin did not wait for the table lock') })])
      // meanwhile the node comes, is ready, and its pin_sync (and the placement it schedules) find nothing yet
      n = await ready(url, token, 1_000_000)
      sockets.push(n.ws)
      n.send({ type: 'pin_sync', workspace_id: 'w', cids: [] })
      await answered(n)
      await orch.settled()
      expect(n.count(m => m.type === 'pin_content')).toBe(0)
      await other.query('COMMIT')
      expect((await pinned).allocations).toMatchObject([{ nodeId: info.id, state: 'queued' }])
    } finally {
      await other.end()
    }
    // what the pin's commit scheduled has run, and its messages went out before this answer
    await orch.settled()
    await answered(n)
    expect(n.count(m => m.type === 'pin_content' && m.cid === CID)).toBe(1)
    expect(await sql(database, "SELECT state FROM pin_allocations WHERE workspace_id = 'w'")).toEqual([{ state: 'pinning' }])
  })
})
