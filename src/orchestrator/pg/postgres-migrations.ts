/**
 * The orchestrator's schema in the PostgreSQL dialect: the same tables and
 * versions as the SQLite migrations in `../store.ts` (index i takes version i
 * to i + 1; never edit a shipped one, append, and append to both lists).
 *
 * Dialect choices: times and byte counts are BIGINT (milliseconds and bytes
 * overflow INTEGER), BLOB is BYTEA, and the text keys use the "C" collation so
 * that `ORDER BY` sorts byte-wise as SQLite does.
 *
 * Versions live in `otherthing_schema (component, version)`: the store is
 * component `store`; the cluster modules (lease, bus) own their own rows.
 */
import { InvalidConfigError } from '../../errors.js'
import type pg from 'pg'

export const STORE_MIGRATIONS: string[] = [
  `
  CREATE TABLE workspaces (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    swarm_key TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE nodes (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seen BIGINT,
    storage_used BIGINT,
    storage_quota BIGINT,
    storage_free BIGINT,
    storage_reported_at BIGINT
  );
  CREATE TABLE memberships (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    node_id TEXT COLLATE "C" NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, node_id)
  );
  CREATE INDEX memberships_node ON memberships(node_id);
  CREATE TABLE peers (
    workspace_id TEXT COLLATE "C" NOT NULL,
    node_id TEXT COLLATE "C" NOT NULL,
    peer_id TEXT NOT NULL,
    addresses TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, node_id),
    FOREIGN KEY (workspace_id, node_id) REFERENCES memberships(workspace_id, node_id) ON DELETE CASCADE
  );
  CREATE TABLE pins (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    cid TEXT COLLATE "C" NOT NULL,
    name TEXT,
    size BIGINT,
    replication_min INTEGER NOT NULL,
    replication_max INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, cid)
  );
  -- no foreign key to pins: an 'unpinning' allocation outlives its pin until the node confirms
  CREATE TABLE pin_allocations (
    workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    cid TEXT COLLATE "C" NOT NULL,
    node_id TEXT COLLATE "C" NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'pinning', 'pinned', 'failed', 'unpinning')),
    error TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, cid, node_id)
  );
  CREATE INDEX pin_allocations_node ON pin_allocations(node_id, workspace_id);
  CREATE TABLE meta (
    key TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 2: the node's drive free space from storage_report.drive_free
  `
  ALTER TABLE nodes ADD COLUMN storage_drive_free BIGINT;
  `
]

/** The store schema version this code writes (equal to the SQLite store's `SCHEMA_VERSION`). */
export const PG_SCHEMA_VERSION = STORE_MIGRATIONS.length

/** One advisory-lock key for every migration, so that instances starting together migrate one at a time. */
const MIGRATION_LOCK = 0x07e2_0001

/**
 * Brings `component` to `migrations.length`, each step in its own
 * transaction, under a transaction-level advisory lock.
 */
export async function migrate (client: pg.ClientBase, component: string, migrations: string[]): Promise<void> {
  // under the same lock as the steps: CREATE TABLE IF NOT EXISTS is not atomic between
  // two sessions (the loser fails on the catalog: 23505, or 42710 for the row type)
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query('CREATE TABLE IF NOT EXISTS otherthing_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)')
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK')
    throw err
  }
  for (;;) {
    await client.query('BEGIN')
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
      const res = await client.query<{ version: number }>('SELECT version FROM otherthing_schema WHERE component = $1', [component])
      const current = res.rows[0]?.version ?? 0
      if (current > migrations.length) {
        throw new InvalidConfigError(`Database schema ${component} version ${current} is newer than this orchestrator (${migrations.length})`)
      }
      if (current === migrations.length) {
        await client.query('COMMIT')
        return
      }
      await client.query(migrations[current])
      await client.query(`INSERT INTO otherthing_schema (component, version) VALUES ($1, $2)
        ON CONFLICT (component) DO UPDATE SET version = excluded.version`, [component, current + 1])
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK')
      throw err
    }
  }
}
