/**
 * The cluster view (`cluster/cluster-view.ts`) on a real PostgreSQL: each read
 * returns only the rows written since the previous one (none when nothing
 * changed), a write of a transaction still open at a read's snapshot is seen by
 * a later read, deleted rows are noticed through their NOTIFY, and an instance
 * whose listener is gone takes its nodes offline.
 */
import { afterEach, describe, expect, it } from 'vitest'
import pg from 'pg'
import { BUS_APP_PREFIX, createClusterBus } from '../src/orchestrator/pg/postgres-bus.js'
import type { ClusterBus } from '../src/orchestrator/pg/postgres-bus.js'
import { createPostgresStore } from '../src/orchestrator/pg/postgres-store.js'
import { migrate } from '../src/orchestrator/pg/postgres-migrations.js'
import { ClusterView, VIEW_MIGRATIONS } from '../src/orchestrator/cluster/cluster-view.js'
import { sql, usePostgres } from './helpers/postgres.js'

const postgres = usePostgres()

describe.skipIf(postgres.skip != null)('cluster view: change-only reads', () => {
  const closers: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of closers.splice(0).reverse()) await c() })

  async function setup (): Promise<{ url: string, a: ClusterBus, b: ClusterBus, view: ClusterView, gone: () => Promise<void> }> {
    const url = await postgres.createDatabase()
    const store = await createPostgresStore({ connectionString: url })
    closers.push(async () => { await store.close() })
    // a's listener does not come back within the test once its session is ended
    const a = createClusterBus({ connectionString: url, instanceId: 'a', reconnectMs: 60_000 })
    const b = createClusterBus({ connectionString: url, instanceId: 'b' })
    await a.start()
    closers.push(async () => { await a.stop() })
    await b.start()
    closers.push(async () => { await b.stop() })
    const pool = new pg.Pool({ connectionString: url, max: 2 })
    closers.push(async () => { await pool.end() })
    const client = await pool.connect()
    await migrate(client, 'cluster-view', VIEW_MIGRATIONS)
    client.release()
    const view = new ClusterView({ pool, instanceId: 'b', appPrefix: BUS_APP_PREFIX })
    let waiter: (() => void) | undefined
    b.addEventListener('rows-gone', (evt) => { view.gone((evt as CustomEvent<string[] | '*'>).detail); waiter?.() })
    const gone = async (): Promise<void> => { await new Promise<void>(resolve => { waiter = resolve }) }
    return { url, a, b, view, gone }
  }

  it('reads only what changed, including a write that committed after a later one', async () => {
    const { url, a, view } = await setup()
    for (const id of ['n1', 'n2']) await sql(url, "INSERT INTO nodes (id, name, token_hash, created_at) VALUES ($1, $1, decode($1, 'escape'), 0)", [id])
    await a.hold('n1')
    await a.hold('n2')
    await sql(url, "INSERT INTO cluster_ready (workspace_id, node_id, instance_id, addresses) VALUES ('w', 'n1', 'a', '[\"/ip4/127.0.0.1/tcp/1\"]')")
    await sql(url, "UPDATE nodes SET storage_free = 100, storage_reported_at = 1 WHERE id = 'n1'")
    await view.read()
    expect([...view.online].sort()).toEqual(['n1', 'n2'])
    expect(view.ready.get('w')?.get('n1')).toEqual(['/ip4/127.0.0.1/tcp/1'])
    expect(view.takeStorage()).toEqual([['n1', 100, 1]])
    await view.read()
    expect(view.lastRows).toBe(0)

    // a transaction that wrote before a later one commits, and commits after the view read that later one
    const slow = new pg.Client({ connectionString: url })
    await slow.connect()
    try {
      await slow.query('BEGIN')
      await slow.query("UPDATE nodes SET storage_free = 50, storage_reported_at = 2 WHERE id = 'n2'")
      await sql(url, "INSERT INTO cluster_ready (workspace_id, node_id, instance_id, addresses) VALUES ('w', 'n2', 'a', '[]')")
      await view.read()
      expect([...view.ready.get('w')?.keys() ?? []].sort()).toEqual(['n1', 'n2'])
      expect(view.takeStorage()).toEqual([])
      await slow.query('COMMIT')
    } finally {
      await slow.end()
    }
    await view.read()
    expect(view.takeStorage()).toEqual([['n2', 50, 2]])
    await view.read()
    expect(view.lastRows).toBe(0)
  })

  it('forgets deleted rows (told by NOTIFY) and the nodes of an instance whose listener went away', async () => {
    const { url, a, view, gone } = await setup()
    await a.hold('n1')
    await a.hold('n2')
    await sql(url, "INSERT INTO cluster_ready (workspace_id, node_id, instance_id, addresses) VALUES ('w', 'n1', 'a', '[]'), ('v', 'n1', 'a', '[]')")
    await view.read()
    expect([...view.ready.keys()].sort()).toEqual(['v', 'w'])
    const told = gone()
    await sql(url, "DELETE FROM cluster_ready WHERE workspace_id = 'v'")
    await told
    await view.read()
    expect([...view.ready.keys()]).toEqual(['w'])
    const released = gone()
    await a.release('n1')
    await released
    await view.read()
    expect([...view.online]).toEqual(['n2'])
    expect(view.ready.size).toBe(0) // n1's row no longer counts: no instance holds n1
    // a dies without a word (its rows stay): its listener's session ends
    await sql(url, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [BUS_APP_PREFIX + 'a'])
    while ((await sql(url, 'SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [BUS_APP_PREFIX + 'a'])).length > 0) await new Promise(resolve => setTimeout(resolve, 20))
    await view.read()
    expect(view.online.size).toBe(0)
    expect(view.holders.get('n2')).toBe('a')
  })
})
