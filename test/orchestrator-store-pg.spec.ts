/**
 * The shared store suite on both engines (SQLite through the async adapter,
 * PostgreSQL on a real server), then what only PostgreSQL has: migrations
 * shared by instances, row locks between two stores (two "instances"), and a
 * transaction whose connection is killed mid-placement.
 */
import { describe, expect, it } from 'vitest'
import { openOrchestratorStore, SCHEMA_VERSION } from '../src/orchestrator/store/index.js'
import { createPostgresStore, describeConnection } from '../src/orchestrator/pg/postgres-store.js'
import type { BulkStoreOperations } from '../src/orchestrator/store/types.js'
import { PG_SCHEMA_VERSION } from '../src/orchestrator/pg/postgres-migrations.js'
import { asyncSqliteStore } from '../src/orchestrator/store/sqlite-adapter.js'
import type { SyncSqliteStore } from '../src/orchestrator/store/sqlite-adapter.js'
import { orchestratorStoreSuite, placeOnce } from './helpers/orchestrator-store-suite.js'
import { sql, usePostgres } from './helpers/postgres.js'
import type { AllocationRow, AsyncOrchestratorStore } from '../src/orchestrator/store/async-store.js'

const postgres = usePostgres()

orchestratorStoreSuite('sqlite (async adapter)', {
  // the adapter needs the raw connection (a sync transaction() cannot span an await): the SQLite class has it, the interface does not
  setup: async () => asyncSqliteStore(openOrchestratorStore({ path: ':memory:' }) as unknown as SyncSqliteStore),
  teardown: async (store) => { await store.close() }
})

describe.skipIf(postgres.skip != null)('postgres', () => {
  orchestratorStoreSuite('postgres', {
    setup: async () => await createPostgresStore({ connectionString: await postgres.createDatabase(), maxConnections: 8 }),
    teardown: async (store) => { await store.close() }
  })

  /** Polls `check` (a condition in the server, not a fixed delay) until it holds. */
  async function until (check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }

  const admin = sql

  /** Whether one session of the database waits on a lock now. */
  const aLockWaits = async (url: string): Promise<boolean> => (await admin(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).length === 1

  async function seed (store: AsyncOrchestratorStore): Promise<string[]> {
    await store.insertWorkspace({ id: 'ws', name: 'ws', swarm_key: 'secret', key_version: 1, created_at: 1 })
    const ids = ['n0', 'n1', 'n2', 'n3']
    for (const [i, id] of ids.entries()) {
      await store.insertNode({ id, name: id, token_hash: Buffer.from([i]), created_at: i })
      await store.addMember('ws', id, i)
    }
    await store.upsertPin({ workspace_id: 'ws', cid: 'bafy', name: null, size: null, replication_min: 2, replication_max: 2, created_at: 1 })
    return ids
  }

  it('migrates to the SQLite store\'s schema version once, with instances starting together', async () => {
    expect(PG_SCHEMA_VERSION).toBe(SCHEMA_VERSION)
    const url = await postgres.createDatabase()
    const stores = await Promise.all([1, 2, 3].map(async () => await createPostgresStore({ connectionString: url, maxConnections: 2 })))
    await Promise.all(stores.map(async s => { await s.close() }))
    const rows = await admin<{ component: string, version: number }>(url, 'SELECT component, version FROM otherthing_schema')
    expect(rows).toEqual([{ component: 'store', version: SCHEMA_VERSION }])
    const again = await createPostgresStore({ connectionString: url })
    expect(await again.listWorkspaces()).toEqual([])
    await again.close()
  })

  it('refuses a database written by a newer orchestrator', async () => {
    const url = await postgres.createDatabase()
    await (await createPostgresStore({ connectionString: url })).close()
    await admin(url, 'UPDATE otherthing_schema SET version = version + 1 WHERE component = $1', ['store'])
    const err = await createPostgresStore({ connectionString: url }).catch(e => e)
    expect(err.name).toBe('InvalidConfigError')
    expect(err.code).toBe('ERR_INVALID_CONFIG')
  })

  it('rejects a connection string that is not postgres:// without echoing it', async () => {
    const err = await createPostgresStore({ connectionString: 'mysql://user:hunter2@127.0.0.1/db' }).catch(e => e)
    expect(err.code).toBe('ERR_INVALID_CONFIG')
    expect(err.message).not.toContain('hunter2')
    expect(describeConnection('postgres://user:hunter2@db.example:5433/orch')).toBe('postgres://db.example:5433/orch')
  })

  it('fails a transaction whose callback swallowed a statement error, instead of reporting a commit', async () => {
    const store = await createPostgresStore({ connectionString: await postgres.createDatabase() })
    try {
      let swallowed: unknown
      const err = await store.transaction(async tx => {
        await tx.setMeta('a', '1')
        // deliberately swallowed by this callback: the store must not report a commit
        await tx.upsertPin({ workspace_id: 'no-such-workspace', cid: 'x', name: null, size: null, replication_min: 1, replication_max: 1, created_at: 1 })
          .catch((e: unknown) => { swallowed = e })
      }).catch(e => e)
      expect(swallowed).toBeInstanceOf(Error)
      expect(err).toMatchObject({ name: 'ConflictError', code: 'ERR_CONFLICT' })
      expect(await store.getMeta('a')).toBeUndefined()
    } finally {
      await store.close()
    }
  })

  it('keeps a swarm key out of the error of a failed write', async () => {
    const store = await createPostgresStore({ connectionString: await postgres.createDatabase() })
    try {
      const err = await store.insertWorkspace({ id: 'ws', name: null as unknown as string, swarm_key: 'SECRET-KEY-0123', key_version: 1, created_at: 1 }).catch(e => e)
      expect(err.code).toBe('23502')
      expect(JSON.stringify({ ...err, message: err.message, stack: err.stack })).not.toContain('SECRET-KEY-0123')
    } finally {
      await store.close()
    }
  })

  it('makes a second instance wait on the pin\'s row lock, then see the first one\'s copies', async () => {
    const url = await postgres.createDatabase()
    const a = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    const b = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    try {
      const nodes = await seed(a)
      let release!: () => void
      const gate = new Promise<void>(resolve => { release = resolve })
      const first = a.transaction(async tx => {
        await tx.lockPin('ws', 'bafy')
        await tx.setAllocation('ws', 'bafy', 'n3', 'pinning', null, 2)
        await gate
      })
      await until(async () => (await admin(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'")).length === 1, 'the first placer to hold the lock')
      const second = placeOnce(b, 'ws', 'bafy', nodes, 2)
      await until(async () => (await admin(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).length === 1, 'the second placer to wait on the lock')
      release()
      await first
      // the second placer counted the first one's copy: one more, not two
      expect(await second).toHaveLength(1)
      const copies = await b.listAllocationsOfPin('ws', 'bafy')
      expect(copies.map(c => c.node_id).sort()).toHaveLength(2)
      expect(copies.map(c => c.node_id)).toContain('n3')
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('writes member allocations against a removal on another connection: each waits for the other, neither leaves an allocation of a non-member', async () => {
    const url = await postgres.createDatabase()
    const a = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    const b = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    const waiting = async (): Promise<boolean> => await aLockWaits(url)
    const row = (nodeId: string) => ({ workspace_id: 'ws', cid: 'bafy', node_id: nodeId, state: 'pinning' as const, error: null, updated_at: 2 })
    try {
      await seed(a)
      // the removal first (held open, as removeMember does it): the write waits for it, then leaves n3 out
      let commit!: () => void
      const gate = new Promise<void>(resolve => { commit = resolve })
      let removed!: () => void
      const holding = new Promise<void>(resolve => { removed = resolve })
      const removal = b.transaction(async tx => {
        await tx.removeMember('ws', 'n3')
        await tx.deleteAllocationsOfNode('n3', 'ws')
        removed()
        await gate
      })
      await holding
      const write = a.transaction(async tx => await tx.setMemberAllocations([row('n2'), row('n3')]))
      await until(waiting, 'the write to wait on the removal')
      commit()
      await removal
      expect(await write).toEqual([row('n3')])
      expect((await a.listAllocationsOfPin('ws', 'bafy')).map(r => r.node_id)).toEqual(['n2'])

      // the write first (its transaction held open): the removal waits for it, then deletes what it wrote
      let done!: () => void
      const open = new Promise<void>(resolve => { done = resolve })
      let wrote!: (dropped: AllocationRow[]) => void
      const written = new Promise<AllocationRow[]>(resolve => { wrote = resolve })
      const placing = a.transaction(async tx => {
        wrote(await tx.setMemberAllocations([row('n1')]))
        await open
      })
      expect(await written).toEqual([])
      const removal2 = b.transaction(async tx => {
        await tx.removeMember('ws', 'n1')
        await tx.deleteAllocationsOfNode('n1', 'ws')
      })
      await until(waiting, 'the removal to wait on the write')
      done()
      await placing
      await removal2
      expect((await a.listAllocationsOfPin('ws', 'bafy')).map(r => r.node_id)).toEqual(['n2'])
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('locks the pins of several workspaces in one statement, in (workspace, cid) order, until the commit', async () => {
    const url = await postgres.createDatabase()
    const a = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    try {
      await seed(a)
      await a.insertWorkspace({ id: 'other', name: 'other', swarm_key: 'secret', key_version: 1, created_at: 1 })
      for (const [ws, cid] of [['other', 'bafz'], ['other', 'bafa'], ['ws', 'bafa']]) {
        await a.upsertPin({ workspace_id: ws, cid, name: null, size: null, replication_min: 1, replication_max: 1, created_at: 1 })
      }
      let release!: () => void
      const gate = new Promise<void>(resolve => { release = resolve })
      let locked: string[] = []
      const holder = a.transaction(async tx => {
        const db = tx as unknown as BulkStoreOperations
        locked = (await db.lockPinsOfKeys([{ workspace_id: 'ws', cid: 'bafy' }, { workspace_id: 'other', cid: 'bafz' }, { workspace_id: 'ws', cid: 'missing' },
          { workspace_id: 'other', cid: 'bafa' }])).map(p => `${p.workspace_id}/${p.cid}`)
        await gate
      })
      await until(async () => (await admin(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'")).length === 1, 'the lock to be held')
      expect(locked).toEqual(['other/bafa', 'other/bafz', 'ws/bafy'])
      const waiting = admin(url, "UPDATE pins SET name = 'x' WHERE workspace_id = 'other' AND cid = 'bafz'")
      await until(async () => (await admin(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).length === 1, 'a writer to wait on the lock')
      // the pin not asked for is not locked
      await admin(url, "UPDATE pins SET name = 'y' WHERE workspace_id = 'ws' AND cid = 'bafa'")
      release()
      await holder
      await waiting
    } finally {
      await a.close()
    }
  })

  it('confirms copies in one statement: only allocations that exist, are not unpinning, of a pin with a size', async () => {
    const url = await postgres.createDatabase()
    const a = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    try {
      await seed(a)
      const db = a as unknown as BulkStoreOperations
      await a.upsertPin({ workspace_id: 'ws', cid: 'sized', name: null, size: 10, replication_min: 2, replication_max: 2, created_at: 1 })
      await a.setAllocation('ws', 'sized', 'n0', 'pinning', null, 1)
      await a.setAllocation('ws', 'sized', 'n1', 'failed', '{"code":"ERR_TIMEOUT"}', 1)
      await a.setAllocation('ws', 'sized', 'n2', 'unpinning', null, 1)
      await a.setAllocation('ws', 'bafy', 'n0', 'pinning', null, 1) // its pin has no size yet: the usual path records it
      await a.setAllocation('ws', 'gone', 'n0', 'pinning', null, 1) // no pin
      const keys = [['sized', 'n0'], ['sized', 'n1'], ['sized', 'n2'], ['sized', 'n3'], ['bafy', 'n0'], ['gone', 'n0'], ['sized', 'nobody']]
        .map(([cid, node]) => ({ workspace_id: 'ws', cid, node_id: node }))
      expect(await db.confirmAllocations(keys, 5)).toEqual([true, true, false, false, false, false, false])
      const rows = await admin<{ cid: string, node_id: string, state: string, error: string | null, updated_at: number }>(url,
        'SELECT cid, node_id, state, error, updated_at::int FROM pin_allocations ORDER BY cid, node_id')
      expect(rows).toEqual([
        { cid: 'bafy', node_id: 'n0', state: 'pinning', error: null, updated_at: 1 },
        { cid: 'gone', node_id: 'n0', state: 'pinning', error: null, updated_at: 1 },
        { cid: 'sized', node_id: 'n0', state: 'pinned', error: null, updated_at: 5 },
        { cid: 'sized', node_id: 'n1', state: 'pinned', error: null, updated_at: 5 },
        { cid: 'sized', node_id: 'n2', state: 'unpinning', error: null, updated_at: 1 }
      ])
      expect(await db.confirmAllocations([], 6)).toEqual([])
    } finally {
      await a.close()
    }
  })

  it('confirms against writers on another connection: an unpinning written meanwhile stays, a row deleted meanwhile is not written back', async () => {
    const url = await postgres.createDatabase()
    const a = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    const b = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    const waiting = async (): Promise<boolean> => await aLockWaits(url)
    try {
      await seed(a)
      const db = a as unknown as BulkStoreOperations
      await a.upsertPin({ workspace_id: 'ws', cid: 'sized', name: null, size: 10, replication_min: 2, replication_max: 2, created_at: 1 })
      await a.setAllocation('ws', 'sized', 'n0', 'pinning', null, 1)
      await a.setAllocation('ws', 'sized', 'n1', 'pinning', null, 1)
      // held open on b: n0's copy unpinned, n1's membership removed with its copies (as removeMember does)
      let commit!: () => void
      const gate = new Promise<void>(resolve => { commit = resolve })
      let held!: () => void
      const holding = new Promise<void>(resolve => { held = resolve })
      const other = b.transaction(async tx => {
        await tx.setAllocation('ws', 'sized', 'n0', 'unpinning', null, 2)
        await tx.removeMember('ws', 'n1')
        await tx.deleteAllocationsOfNode('n1', 'ws')
        held()
        await gate
      })
      await holding
      const confirm = db.confirmAllocations([{ workspace_id: 'ws', cid: 'sized', node_id: 'n0' }, { workspace_id: 'ws', cid: 'sized', node_id: 'n1' }], 3)
      await until(waiting, 'the confirmation to wait on the rows')
      commit()
      await other
      expect(await confirm).toEqual([false, false])
      expect(await a.listAllocationsOfPin('ws', 'sized')).toEqual([{ workspace_id: 'ws', cid: 'sized', node_id: 'n0', state: 'unpinning', error: null, updated_at: 2 }])
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('loses nothing when an instance dies mid-placement: the server rolls back, another instance places', async () => {
    const url = await postgres.createDatabase()
    const a = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    const b = await createPostgresStore({ connectionString: url, maxConnections: 2 })
    try {
      const nodes = await seed(a)
      let resume!: () => void
      const gate = new Promise<void>(resolve => { resume = resolve })
      const dying = a.transaction(async tx => {
        await tx.lockPin('ws', 'bafy')
        await tx.setAllocation('ws', 'bafy', 'n0', 'pinning', null, 2)
        await gate
        await tx.setAllocation('ws', 'bafy', 'n1', 'pinning', null, 2)
      })
      await until(async () => (await admin(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'")).length === 1, 'the placer to hold the lock')
      const killed = await admin<{ ok: boolean }>(url, `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = current_database() AND state = 'idle in transaction'`)
      expect(killed).toEqual([{ ok: true }])
      resume()
      await expect(dying).rejects.toThrow()

      // the lock went with the connection: the other instance places at once, from a clean slate
      expect(await b.listAllocationsOfPin('ws', 'bafy')).toEqual([])
      expect(await b.getPin('ws', 'bafy')).toMatchObject({ replication_min: 2 })
      expect(await placeOnce(b, 'ws', 'bafy', nodes, 2)).toHaveLength(2)
      // and the dead instance's pool recovers for its next transaction
      expect(await placeOnce(a, 'ws', 'bafy', nodes, 2)).toEqual([])
      expect(await a.listAllocationsOfPin('ws', 'bafy')).toHaveLength(2)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('places each of many pins exactly once when two instances place the same workspace at once', async () => {
    const url = await postgres.createDatabase()
    const a = await createPostgresStore({ connectionString: url, maxConnections: 4 })
    const b = await createPostgresStore({ connectionString: url, maxConnections: 4 })
    try {
      const nodes = await seed(a)
      const cids = Array.from({ length: 40 }, (_, i) => `bafy${String(i).padStart(2, '0')}`)
      for (const cid of cids) await a.upsertPin({ workspace_id: 'ws', cid, name: null, size: null, replication_min: 2, replication_max: 2, created_at: 1 })
      const placeAll = async (store: AsyncOrchestratorStore): Promise<void> => {
        await store.transaction(async tx => {
          for (const row of await tx.lockPins('ws')) {
            const have = new Set((await tx.listAllocationsOfPin('ws', row.cid)).map(x => x.node_id))
            for (const nodeId of nodes.filter(n => !have.has(n)).slice(0, row.replication_max - have.size)) {
              await tx.setAllocation('ws', row.cid, nodeId, 'pinning', null, 3)
            }
          }
        })
      }
      await Promise.all([placeAll(a), placeAll(b), placeAll(a), placeAll(b)])
      const all = await a.listAllocationsOfWorkspace('ws')
      expect(all).toHaveLength((cids.length + 1) * 2)
    } finally {
      await a.close()
      await b.close()
    }
  })
})
