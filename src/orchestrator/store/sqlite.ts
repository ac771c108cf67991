/**
 * The orchestrator's state in SQLite (better-sqlite3): the embedded
 * {@link OrchestratorStore}. The file and its -wal/-shm are created mode 0600
 * (they hold swarm keys); with a key-encryption key the keys are stored
 * AES-256-GCM encrypted (`key-encryption.ts`). Every method commits its own
 * write when it returns; callers group writes with `transaction()`.
 */
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs'
import Database from 'better-sqlite3'
import type { Database as DatabaseType, Statement } from 'better-sqlite3'
import { KeyEncryptionKeyError } from '../../errors.js'
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js'
import { decryptSwarmKey, encryptedKeyId, encryptSwarmKey, isEncryptedKey } from './key-encryption.js'
import type { KeyEncryptionKey } from './key-encryption.js'
import type { AllocationRow, AllocationState, NodeRow, OrchestratorStore, PeerRow, PinRow, WorkspaceRow } from './types.js'

export interface OrchestratorStoreInit {
  /** A file path, or `':memory:'`. */
  path: string
  /**
   * Encrypts the swarm keys at rest (see `resolveKeyEncryptionKey`). Plain
   * keys found on open are encrypted then. Required to open a database whose
   * keys are encrypted. @default none (keys in plain text, file mode 0600)
   */
  keyEncryptionKey?: KeyEncryptionKey
}

const FILE_MODE = 0o600

/**
 * Opens (creating if needed) the database and migrates it to {@link SCHEMA_VERSION}.
 *
 * @throws {KeyEncryptionKeyError} the keys are encrypted and no KEK, or another one, was given
 * @example
 * ```ts
 * const store = openOrchestratorStore({ path: ':memory:' })
 * store.listWorkspaces() // []
 * ```
 */
export function openOrchestratorStore (init: OrchestratorStoreInit): OrchestratorStore {
  const onDisk = init.path !== ':memory:' && init.path !== ''
  // create the file ourselves so that it is never readable by others, not even for a moment
  if (onDisk && !existsSync(init.path)) closeSync(openSync(init.path, 'a', FILE_MODE))
  const db = new Database(init.path)
  try {
    if (onDisk) {
      db.pragma('journal_mode = WAL')
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(init.path + suffix)) chmodSync(init.path + suffix, FILE_MODE)
      }
    }
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    // a replaced plain key must not survive in a free page
    if (init.keyEncryptionKey != null) db.pragma('secure_delete = ON')
    migrate(db)
    const store = new SqliteStore(db, init.keyEncryptionKey)
    store.checkKeys()
    return store
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
  #kek: KeyEncryptionKey | undefined

  constructor (db: DatabaseType, kek?: KeyEncryptionKey) {
    this.db = db
    this.#kek = kek
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

  close (): void {
    if (this.db.open) this.db.close()
  }

  get encryptsKeys (): boolean { return this.#kek != null }

  /** Throws when a stored key cannot be read with the KEK given; encrypts plain keys when a KEK is given. */
  checkKeys (): void {
    const rows = this.#s.listWorkspaces.all() as WorkspaceRow[]
    const encrypted = rows.filter(r => isEncryptedKey(r.swarm_key))
    if (encrypted.length > 0) {
      if (this.#kek == null) throw new KeyEncryptionKeyError('The database holds encrypted swarm keys: give the key-encryption key (OTHERTHING_KEK, OTHERTHING_KEK_FILE or keyEncryptionKey)')
      const other = encrypted.find(r => encryptedKeyId(r.swarm_key) !== this.#kek?.id)
      if (other != null) decryptSwarmKey(this.#kek, other.id, other.swarm_key) // throws the typed error
    }
    if (this.#kek != null && encrypted.length < rows.length) this.rotateKeyEncryptionKey(this.#kek)
  }

  rotateKeyEncryptionKey (next: KeyEncryptionKey | null): number {
    const kek = next ?? undefined
    const count = this.transaction(() => {
      let n = 0
      for (const row of this.#s.listWorkspaces.all() as WorkspaceRow[]) {
        const plain = decryptSwarmKey(this.#kek, row.id, row.swarm_key)
        this.#s.setWorkspaceKey.run(kek == null ? plain : encryptSwarmKey(kek, row.id, plain), row.key_version, row.id)
        n++
      }
      return n
    })
    this.#kek = kek
    if (kek != null) this.db.pragma('secure_delete = ON')
    // old values may sit in the WAL until a checkpoint: move them into the (securely overwritten) file now
    if (this.db.name !== ':memory:') this.db.pragma('wal_checkpoint(TRUNCATE)')
    return count
  }

  #seal (id: string, swarmKey: string): string {
    return this.#kek == null ? swarmKey : encryptSwarmKey(this.#kek, id, swarmKey)
  }

  #open (row: WorkspaceRow | undefined): WorkspaceRow | undefined {
    if (row == null || !isEncryptedKey(row.swarm_key)) return row
    return { ...row, swarm_key: decryptSwarmKey(this.#kek, row.id, row.swarm_key) }
  }

  insertWorkspace (row: WorkspaceRow): void { this.#s.insertWorkspace.run({ ...row, swarm_key: this.#seal(row.id, row.swarm_key) }) }
  getWorkspace (id: string): WorkspaceRow | undefined { return this.#open(this.#s.getWorkspace.get(id) as WorkspaceRow | undefined) }
  listWorkspaces (): WorkspaceRow[] { return (this.#s.listWorkspaces.all() as WorkspaceRow[]).map(r => this.#open(r) as WorkspaceRow) }
  setWorkspaceKey (id: string, swarmKey: string, keyVersion: number): void { this.#s.setWorkspaceKey.run(this.#seal(id, swarmKey), keyVersion, id) }

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
