/**
 * The orchestrator's state in SQLite (better-sqlite3): schema, ordered
 * migrations (tracked in `PRAGMA user_version`) and prepared statements.
 * Every method is synchronous; callers group writes with {@link OrchestratorStore.transaction}.
 */
import Database from 'better-sqlite3'
import type { Database as DatabaseType, Statement } from 'better-sqlite3'

export type AllocationState = 'queued' | 'pinning' | 'pinned' | 'failed' | 'unpinning'

export const ALLOCATION_STATES: readonly AllocationState[] = ['queued', 'pinning', 'pinned', 'failed', 'unpinning']

export interface WorkspaceRow {
  id: string
  name: string
  swarm_key: string
  key_version: number
  created_at: number
}

export interface NodeRow {
  id: string
  name: string
  token_hash: Buffer
  created_at: number
  last_seen: number | null
  storage_used: number | null
  storage_quota: number | null
  storage_free: number | null
  storage_reported_at: number | null
  /** Free space of the node's drive (schema 2). */
  storage_drive_free: number | null
}

export interface PeerRow {
  workspace_id: string
  node_id: string
  peer_id: string
  addresses: string
  updated_at: number
}

export interface PinRow {
  workspace_id: string
  cid: string
  name: string | null
  size: number | null
  replication_min: number
  replication_max: number
  created_at: number
}

export interface AllocationRow {
  workspace_id: string
  cid: string
  node_id: string
  state: AllocationState
  error: string | null
  updated_at: number
}

/** Ordered migrations; index i takes the schema from version i to i + 1. Never edit a shipped one, append. */
const MIGRATIONS: string[] = [
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

export interface OrchestratorStore {
  readonly db: DatabaseType
  /** Runs `fn` in a transaction (a savepoint when one is open). */
  transaction<T>(fn: () => T): T
  /**
   * Opens a transaction that commits at the end of the current event-loop
   * turn (setImmediate), so that the many small writes of one burst of
   * messages cost one commit. Does nothing if one is open.
   */
  batch(): void
  /** Commits the open batch now. */
  commitBatch(): void
  close(): void

  insertWorkspace(row: WorkspaceRow): void
  getWorkspace(id: string): WorkspaceRow | undefined
  listWorkspaces(): WorkspaceRow[]
  setWorkspaceKey(id: string, swarmKey: string, keyVersion: number): void

  insertNode(row: Pick<NodeRow, 'id' | 'name' | 'token_hash' | 'created_at'>): void
  getNode(id: string): NodeRow | undefined
  getNodeByTokenHash(hash: Buffer): NodeRow | undefined
  listNodes(): NodeRow[]
  setNodeName(id: string, name: string): void
  touchNode(id: string, at: number): void
  setNodeStorage(id: string, used: number, quota: number, free: number, at: number, driveFree?: number | null): void

  addMember(workspaceId: string, nodeId: string, at: number): boolean
  removeMember(workspaceId: string, nodeId: string): boolean
  isMember(workspaceId: string, nodeId: string): boolean
  listMemberIds(workspaceId: string): string[]
  listWorkspaceIdsOfNode(nodeId: string): string[]

  upsertPeer(workspaceId: string, nodeId: string, peerId: string, addresses: string[], at: number): void
  getPeer(workspaceId: string, nodeId: string): PeerRow | undefined
  listPeers(workspaceId: string): PeerRow[]

  upsertPin(row: PinRow): void
  getPin(workspaceId: string, cid: string): PinRow | undefined
  deletePin(workspaceId: string, cid: string): boolean
  listPins(workspaceId: string): PinRow[]
  listAllPins(): PinRow[]

  setAllocation(workspaceId: string, cid: string, nodeId: string, state: AllocationState, error: string | null, at: number): void
  getAllocation(workspaceId: string, cid: string, nodeId: string): AllocationRow | undefined
  deleteAllocation(workspaceId: string, cid: string, nodeId: string): boolean
  listAllocationsOfPin(workspaceId: string, cid: string): AllocationRow[]
  listAllocationsOfNode(nodeId: string, workspaceId: string): AllocationRow[]
  listAllocationsOfWorkspace(workspaceId: string): AllocationRow[]
  deleteAllocationsOfNode(nodeId: string, workspaceId: string): void

  getMeta(key: string): string | undefined
  setMeta(key: string, value: string): void
}

export interface OrchestratorStoreInit {
  /** A file path, or `':memory:'`. */
  path: string
}

/**
 * Opens (creating if needed) the database and migrates it to {@link SCHEMA_VERSION}.
 *
 * @example
 * ```ts
 * const store = openOrchestratorStore({ path: ':memory:' })
 * store.listWorkspaces() // []
 * ```
 */
export function openOrchestratorStore (init: OrchestratorStoreInit): OrchestratorStore {
  const db = new Database(init.path)
  try {
    if (init.path !== ':memory:') {
      db.pragma('journal_mode = WAL')
    }
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    migrate(db)
    return new SqliteStore(db)
  } catch (err) {
    db.close()
    throw err
  }
}

function migrate (db: DatabaseType): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > SCHEMA_VERSION) {
    throw new Error(`Database schema version ${current} is newer than this orchestrator (${SCHEMA_VERSION})`)
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v])
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}

class SqliteStore implements OrchestratorStore {
  readonly db: DatabaseType
  readonly #s: Record<string, Statement>

  constructor (db: DatabaseType) {
    this.db = db
    const p = (sql: string): Statement => db.prepare(sql)
    this.#s = {
      insertWorkspace: p('INSERT INTO workspaces (id, name, swarm_key, key_version, created_at) VALUES (@id, @name, @swarm_key, @key_version, @created_at)'),
      getWorkspace: p('SELECT * FROM workspaces WHERE id = ?'),
      listWorkspaces: p('SELECT * FROM workspaces ORDER BY created_at, id'),
      setWorkspaceKey: p('UPDATE workspaces SET swarm_key = ?, key_version = ? WHERE id = ?'),

      insertNode: p('INSERT INTO nodes (id, name, token_hash, created_at) VALUES (@id, @name, @token_hash, @created_at)'),
      getNode: p('SELECT * FROM nodes WHERE id = ?'),
      getNodeByTokenHash: p('SELECT * FROM nodes WHERE token_hash = ?'),
      listNodes: p('SELECT * FROM nodes ORDER BY created_at, id'),
      setNodeName: p('UPDATE nodes SET name = ? WHERE id = ?'),
      touchNode: p('UPDATE nodes SET last_seen = ? WHERE id = ?'),
      setNodeStorage: p('UPDATE nodes SET storage_used = ?, storage_quota = ?, storage_free = ?, storage_reported_at = ?, storage_drive_free = ? WHERE id = ?'),

      addMember: p('INSERT OR IGNORE INTO memberships (workspace_id, node_id, created_at) VALUES (?, ?, ?)'),
      removeMember: p('DELETE FROM memberships WHERE workspace_id = ? AND node_id = ?'),
      isMember: p('SELECT 1 FROM memberships WHERE workspace_id = ? AND node_id = ?'),
      listMemberIds: p('SELECT node_id FROM memberships WHERE workspace_id = ? ORDER BY created_at, node_id'),
      listWorkspaceIdsOfNode: p('SELECT workspace_id FROM memberships WHERE node_id = ? ORDER BY created_at, workspace_id'),

      upsertPeer: p(`INSERT INTO peers (workspace_id, node_id, peer_id, addresses, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (workspace_id, node_id) DO UPDATE SET peer_id = excluded.peer_id, addresses = excluded.addresses, updated_at = excluded.updated_at`),
      getPeer: p('SELECT * FROM peers WHERE workspace_id = ? AND node_id = ?'),
      listPeers: p('SELECT * FROM peers WHERE workspace_id = ?'),

      upsertPin: p(`INSERT INTO pins (workspace_id, cid, name, size, replication_min, replication_max, created_at)
        VALUES (@workspace_id, @cid, @name, @size, @replication_min, @replication_max, @created_at)
        ON CONFLICT (workspace_id, cid) DO UPDATE SET name = excluded.name, size = COALESCE(excluded.size, pins.size),
          replication_min = excluded.replication_min, replication_max = excluded.replication_max`),
      getPin: p('SELECT * FROM pins WHERE workspace_id = ? AND cid = ?'),
      deletePin: p('DELETE FROM pins WHERE workspace_id = ? AND cid = ?'),
      listPins: p('SELECT * FROM pins WHERE workspace_id = ? ORDER BY created_at, cid'),
      listAllPins: p('SELECT * FROM pins ORDER BY workspace_id, created_at, cid'),

      setAllocation: p(`INSERT INTO pin_allocations (workspace_id, cid, node_id, state, error, updated_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (workspace_id, cid, node_id) DO UPDATE SET state = excluded.state, error = excluded.error, updated_at = excluded.updated_at`),
      getAllocation: p('SELECT * FROM pin_allocations WHERE workspace_id = ? AND cid = ? AND node_id = ?'),
      deleteAllocation: p('DELETE FROM pin_allocations WHERE workspace_id = ? AND cid = ? AND node_id = ?'),
      listAllocationsOfPin: p('SELECT * FROM pin_allocations WHERE workspace_id = ? AND cid = ?'),
      listAllocationsOfNode: p('SELECT * FROM pin_allocations WHERE node_id = ? AND workspace_id = ?'),
      listAllocationsOfWorkspace: p('SELECT * FROM pin_allocations WHERE workspace_id = ?'),
      deleteAllocationsOfNode: p('DELETE FROM pin_allocations WHERE node_id = ? AND workspace_id = ?'),
      getMeta: p('SELECT value FROM meta WHERE key = ?'),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
    }
  }

  transaction<T>(fn: () => T): T {
    // nested calls become savepoints, so each stays all-or-nothing
    return this.db.transaction(fn)()
  }

  #batchOpen = false

  batch (): void {
    if (this.#batchOpen || this.db.inTransaction) return
    this.db.exec('BEGIN')
    this.#batchOpen = true
    setImmediate(() => { this.commitBatch() })
  }

  commitBatch (): void {
    if (!this.#batchOpen) return
    this.#batchOpen = false
    if (this.db.open && this.db.inTransaction) this.db.exec('COMMIT')
  }

  close (): void {
    this.commitBatch()
    if (this.db.open) this.db.close()
  }

  insertWorkspace (row: WorkspaceRow): void { this.#s.insertWorkspace.run(row) }
  getWorkspace (id: string): WorkspaceRow | undefined { return this.#s.getWorkspace.get(id) as WorkspaceRow | undefined }
  listWorkspaces (): WorkspaceRow[] { return this.#s.listWorkspaces.all() as WorkspaceRow[] }
  setWorkspaceKey (id: string, swarmKey: string, keyVersion: number): void { this.#s.setWorkspaceKey.run(swarmKey, keyVersion, id) }

  insertNode (row: Pick<NodeRow, 'id' | 'name' | 'token_hash' | 'created_at'>): void { this.#s.insertNode.run(row) }
  getNode (id: string): NodeRow | undefined { return this.#s.getNode.get(id) as NodeRow | undefined }
  getNodeByTokenHash (hash: Buffer): NodeRow | undefined { return this.#s.getNodeByTokenHash.get(hash) as NodeRow | undefined }
  listNodes (): NodeRow[] { return this.#s.listNodes.all() as NodeRow[] }
  setNodeName (id: string, name: string): void { this.#s.setNodeName.run(name, id) }
  touchNode (id: string, at: number): void { this.#s.touchNode.run(at, id) }
  setNodeStorage (id: string, used: number, quota: number, free: number, at: number, driveFree: number | null = null): void {
    this.#s.setNodeStorage.run(used, quota, free, at, driveFree, id)
  }

  addMember (workspaceId: string, nodeId: string, at: number): boolean { return this.#s.addMember.run(workspaceId, nodeId, at).changes > 0 }
  removeMember (workspaceId: string, nodeId: string): boolean { return this.#s.removeMember.run(workspaceId, nodeId).changes > 0 }
  isMember (workspaceId: string, nodeId: string): boolean { return this.#s.isMember.get(workspaceId, nodeId) !== undefined }
  listMemberIds (workspaceId: string): string[] { return (this.#s.listMemberIds.all(workspaceId) as Array<{ node_id: string }>).map(r => r.node_id) }
  listWorkspaceIdsOfNode (nodeId: string): string[] { return (this.#s.listWorkspaceIdsOfNode.all(nodeId) as Array<{ workspace_id: string }>).map(r => r.workspace_id) }

  upsertPeer (workspaceId: string, nodeId: string, peerId: string, addresses: string[], at: number): void {
    this.#s.upsertPeer.run(workspaceId, nodeId, peerId, JSON.stringify(addresses), at)
  }

  getPeer (workspaceId: string, nodeId: string): PeerRow | undefined { return this.#s.getPeer.get(workspaceId, nodeId) as PeerRow | undefined }
  listPeers (workspaceId: string): PeerRow[] { return this.#s.listPeers.all(workspaceId) as PeerRow[] }

  upsertPin (row: PinRow): void { this.#s.upsertPin.run(row) }
  getPin (workspaceId: string, cid: string): PinRow | undefined { return this.#s.getPin.get(workspaceId, cid) as PinRow | undefined }
  deletePin (workspaceId: string, cid: string): boolean { return this.#s.deletePin.run(workspaceId, cid).changes > 0 }
  listPins (workspaceId: string): PinRow[] { return this.#s.listPins.all(workspaceId) as PinRow[] }
  listAllPins (): PinRow[] { return this.#s.listAllPins.all() as PinRow[] }

  setAllocation (workspaceId: string, cid: string, nodeId: string, state: AllocationState, error: string | null, at: number): void {
    this.#s.setAllocation.run(workspaceId, cid, nodeId, state, error, at)
  }

  getAllocation (workspaceId: string, cid: string, nodeId: string): AllocationRow | undefined {
    return this.#s.getAllocation.get(workspaceId, cid, nodeId) as AllocationRow | undefined
  }

  deleteAllocation (workspaceId: string, cid: string, nodeId: string): boolean { return this.#s.deleteAllocation.run(workspaceId, cid, nodeId).changes > 0 }
  listAllocationsOfPin (workspaceId: string, cid: string): AllocationRow[] { return this.#s.listAllocationsOfPin.all(workspaceId, cid) as AllocationRow[] }
  listAllocationsOfNode (nodeId: string, workspaceId: string): AllocationRow[] { return this.#s.listAllocationsOfNode.all(nodeId, workspaceId) as AllocationRow[] }
  listAllocationsOfWorkspace (workspaceId: string): AllocationRow[] { return this.#s.listAllocationsOfWorkspace.all(workspaceId) as AllocationRow[] }
  deleteAllocationsOfNode (nodeId: string, workspaceId: string): void { this.#s.deleteAllocationsOfNode.run(nodeId, workspaceId) }
  getMeta (key: string): string | undefined { return (this.#s.getMeta.get(key) as { value: string } | undefined)?.value }
  setMeta (key: string, value: string): void { this.#s.setMeta.run(key, value) }
}
