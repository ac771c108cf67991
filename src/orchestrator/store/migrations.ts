/** The SQLite schema of the orchestrator, as ordered migrations (tracked in `PRAGMA user_version`). */

/** Ordered migrations; index i takes the schema from version i to i + 1. Never edit a shipped one, append. */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    swarm_key TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seen INTEGER,
    storage_used INTEGER,
    storage_quota INTEGER,
    storage_free INTEGER,
    storage_reported_at INTEGER
  );
  CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, node_id)
  );
  CREATE INDEX memberships_node ON memberships(node_id);
  CREATE TABLE peers (
    workspace_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    addresses TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, node_id),
    FOREIGN KEY (workspace_id, node_id) REFERENCES memberships(workspace_id, node_id) ON DELETE CASCADE
  );
  CREATE TABLE pins (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    cid TEXT NOT NULL,
    name TEXT,
    size INTEGER,
    replication_min INTEGER NOT NULL,
    replication_max INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, cid)
  );
  -- no foreign key to pins: an 'unpinning' allocation outlives its pin until the node confirms
  CREATE TABLE pin_allocations (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    cid TEXT NOT NULL,
    node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'pinning', 'pinned', 'failed', 'unpinning')),
    error TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, cid, node_id)
  );
  CREATE INDEX pin_allocations_node ON pin_allocations(node_id, workspace_id);
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 2: the node's drive free space from storage_report.drive_free
  `
  ALTER TABLE nodes ADD COLUMN storage_drive_free INTEGER;
  `
]

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length
