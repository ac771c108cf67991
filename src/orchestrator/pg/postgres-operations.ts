/**
 * The row operations of the PostgreSQL store, on a pool (each statement on
 * its own) or on one connection inside a transaction: named prepared
 * statements, bulk writes as arrays (`unnest`), BIGINT read as numbers.
 * Swarm keys pass through a {@link SwarmKeySeal} (encrypted at rest when the
 * store has a key-encryption key).
 */
import pg from 'pg'
import { throwIfAborted } from '../../util/abort.js'
import { decryptSwarmKey, encryptSwarmKey, isEncryptedKey } from '../store/key-encryption.js'
import type { KeyEncryptionKey } from '../store/key-encryption.js'
import type { AllocationRow, AllocationState, AsyncStoreOperations, NodeRow, PeerRow, PinRow, WorkspaceRow } from '../store/async-store.js'
import { lastRowOfEachKey } from '../store/types.js'
import { CONFIRM_ALLOCATIONS, READ_CONFIRMATIONS } from './keyed-statements.js'
import type { BulkStoreOperations, ConfirmationRow, StoredPin } from '../store/types.js'
import type { AbortOptions } from '@libp2p/interface'

/** Seals swarm keys on the way in and opens them on the way out (AES-256-GCM under the KEK, or plain). */
export class SwarmKeySeal {
  kek: KeyEncryptionKey | undefined

  constructor (kek?: KeyEncryptionKey) {
    this.kek = kek
  }

  seal (workspaceId: string, swarmKey: string): string {
    return this.kek == null ? swarmKey : encryptSwarmKey(this.kek, workspaceId, swarmKey)
  }

  open (row: WorkspaceRow): WorkspaceRow {
    if (!isEncryptedKey(row.swarm_key)) return row
    return { ...row, swarm_key: decryptSwarmKey(this.kek, row.id, row.swarm_key) }
  }
}

export type Executor = pg.Pool | pg.PoolClient

/** The columns of {@link NodeRow} (the cluster view adds one of its own to the table). */
const NODE_COLUMNS = 'id, name, token_hash, created_at, last_seen, storage_used, storage_quota, storage_free, storage_reported_at, storage_drive_free'

/** Rows per statement of a bulk write (arrays are bound as one parameter each). */
const BULK_ROWS = 5000

/**
 * A constraint violation's DETAIL can quote the whole row ("Failing row
 * contains (..., <swarm key>, ...)"): drop it before the error travels to
 * callers and their logs.
 */
function redact (err: unknown): never {
  if (err instanceof pg.DatabaseError && err.detail?.startsWith('Failing row contains') === true) {
    err.detail = 'Failing row contains (redacted)'
  }
  throw err
}

/** Code-unit order, as COLLATE "C" compares these ASCII keys. */
function byKey (a: { workspace_id: string, cid: string }, b: { workspace_id: string, cid: string }): number {
  if (a.workspace_id !== b.workspace_id) return a.workspace_id < b.workspace_id ? -1 : 1
  return a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0
}

type ConfirmationResult = Omit<PinRow, 'workspace_id' | 'cid'> & { i: number, member: boolean, pin_cid: string | null, state: AllocationState | null }

export class PostgresOperations implements AsyncStoreOperations, BulkStoreOperations {
  protected readonly db: Executor
  protected readonly keys: SwarmKeySeal

  constructor (db: Executor, keys: SwarmKeySeal) {
    this.db = db
    this.keys = keys
  }

  async #rows<R extends pg.QueryResultRow>(name: string, text: string, values: unknown[], options?: AbortOptions): Promise<R[]> {
    throwIfAborted(options?.signal)
    // named: prepared once per connection, then only bound and executed
    return (await this.db.query<R>({ name, text, values }).catch(redact)).rows
  }

  async #count (name: string, text: string, values: unknown[], options?: AbortOptions): Promise<number> {
    throwIfAborted(options?.signal)
    return (await this.db.query({ name, text, values }).catch(redact)).rowCount ?? 0
  }

  async #one<R extends pg.QueryResultRow>(name: string, text: string, values: unknown[], options?: AbortOptions): Promise<R | undefined> {
    return (await this.#rows<R>(name, text, values, options))[0]
  }

  async insertWorkspace (row: WorkspaceRow, options?: AbortOptions): Promise<void> {
    await this.#count('insertWorkspace', 'INSERT INTO workspaces (id, name, swarm_key, key_version, created_at) VALUES ($1, $2, $3, $4, $5)',
      [row.id, row.name, this.keys.seal(row.id, row.swarm_key), row.key_version, row.created_at], options)
  }

  async getWorkspace (id: string, options?: AbortOptions): Promise<WorkspaceRow | undefined> {
    const row = await this.#one<WorkspaceRow>('getWorkspace', 'SELECT * FROM workspaces WHERE id = $1', [id], options)
    return row == null ? undefined : this.keys.open(row)
  }

  async listWorkspaces (options?: AbortOptions): Promise<WorkspaceRow[]> {
    return (await this.#rows<WorkspaceRow>('listWorkspaces', 'SELECT * FROM workspaces ORDER BY created_at, id', [], options)).map(r => this.keys.open(r))
  }

  async setWorkspaceKey (id: string, swarmKey: string, keyVersion: number, options?: AbortOptions): Promise<void> {
    await this.#count('setWorkspaceKey', 'UPDATE workspaces SET swarm_key = $1, key_version = $2 WHERE id = $3', [this.keys.seal(id, swarmKey), keyVersion, id], options)
  }

  async insertNode (row: Pick<NodeRow, 'id' | 'name' | 'token_hash' | 'created_at'>, options?: AbortOptions): Promise<void> {
    await this.#count('insertNode', 'INSERT INTO nodes (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)',
      [row.id, row.name, row.token_hash, row.created_at], options)
  }

  async getNode (id: string, options?: AbortOptions): Promise<NodeRow | undefined> {
    return await this.#one('getNode', `SELECT ${NODE_COLUMNS} FROM nodes WHERE id = $1`, [id], options)
  }

  async getNodeByTokenHash (hash: Buffer, options?: AbortOptions): Promise<NodeRow | undefined> {
    return await this.#one('getNodeByTokenHash', `SELECT ${NODE_COLUMNS} FROM nodes WHERE token_hash = $1`, [hash], options)
  }

  async listNodes (options?: AbortOptions): Promise<NodeRow[]> {
    return await this.#rows('listNodes', `SELECT ${NODE_COLUMNS} FROM nodes ORDER BY created_at, id`, [], options)
  }

  async setNodeName (id: string, name: string, options?: AbortOptions): Promise<void> {
    await this.#count('setNodeName', 'UPDATE nodes SET name = $1 WHERE id = $2', [name, id], options)
  }

  async touchNode (id: string, at: number, options?: AbortOptions): Promise<void> {
    await this.#count('touchNode', 'UPDATE nodes SET last_seen = $1 WHERE id = $2', [at, id], options)
  }

  async setNodeStorage (id: string, used: number, quota: number, free: number, at: number, driveFree: number | null = null, options?: AbortOptions): Promise<void> {
    await this.#count('setNodeStorage', `UPDATE nodes SET storage_used = $1, storage_quota = $2, storage_free = $3,
      storage_reported_at = $4, storage_drive_free = $5 WHERE id = $6`, [used, quota, free, at, driveFree, id], options)
  }

  async addMember (workspaceId: string, nodeId: string, at: number, options?: AbortOptions): Promise<boolean> {
    return await this.#count('addMember', `INSERT INTO memberships (workspace_id, node_id, created_at) VALUES ($1, $2, $3)
      ON CONFLICT (workspace_id, node_id) DO NOTHING`, [workspaceId, nodeId, at], options) > 0
  }

  async removeMember (workspaceId: string, nodeId: string, options?: AbortOptions): Promise<boolean> {
    return await this.#count('removeMember', 'DELETE FROM memberships WHERE workspace_id = $1 AND node_id = $2', [workspaceId, nodeId], options) > 0
  }

  async isMember (workspaceId: string, nodeId: string, options?: AbortOptions): Promise<boolean> {
    return await this.#one('isMember', 'SELECT 1 FROM memberships WHERE workspace_id = $1 AND node_id = $2 FOR SHARE', [workspaceId, nodeId], options) !== undefined
  }

  async listMemberIds (workspaceId: string, options?: AbortOptions): Promise<string[]> {
    const rows = await this.#rows<{ node_id: string }>('listMemberIds', 'SELECT node_id FROM memberships WHERE workspace_id = $1 ORDER BY created_at, node_id', [workspaceId], options)
    return rows.map(r => r.node_id)
  }

  async listWorkspaceIdsOfNode (nodeId: string, options?: AbortOptions): Promise<string[]> {
    const rows = await this.#rows<{ workspace_id: string }>('listWorkspaceIdsOfNode', 'SELECT workspace_id FROM memberships WHERE node_id = $1 ORDER BY created_at, workspace_id', [nodeId], options)
    return rows.map(r => r.workspace_id)
  }

  async upsertPeer (workspaceId: string, nodeId: string, peerId: string, addresses: string[], at: number, options?: AbortOptions): Promise<void> {
    await this.#count('upsertPeer', `INSERT INTO peers (workspace_id, node_id, peer_id, addresses, updated_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (workspace_id, node_id) DO UPDATE SET peer_id = excluded.peer_id, addresses = excluded.addresses, updated_at = excluded.updated_at`,
    [workspaceId, nodeId, peerId, JSON.stringify(addresses), at], options)
  }

  async getPeer (workspaceId: string, nodeId: string, options?: AbortOptions): Promise<PeerRow | undefined> {
    return await this.#one('getPeer', 'SELECT * FROM peers WHERE workspace_id = $1 AND node_id = $2', [workspaceId, nodeId], options)
  }

  async listPeers (workspaceId: string, options?: AbortOptions): Promise<PeerRow[]> {
    return await this.#rows('listPeers', 'SELECT * FROM peers WHERE workspace_id = $1', [workspaceId], options)
  }

  async upsertPin (row: PinRow, options?: AbortOptions): Promise<void> {
    await this.#count('upsertPin', `INSERT INTO pins (workspace_id, cid, name, size, replication_min, replication_max, created_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (workspace_id, cid) DO UPDATE SET name = excluded.name, size = COALESCE(excluded.size, pins.size),
        replication_min = excluded.replication_min, replication_max = excluded.replication_max`,
    [row.workspace_id, row.cid, row.name, row.size, row.replication_min, row.replication_max, row.created_at], options)
  }

  async getPin (workspaceId: string, cid: string, options?: AbortOptions): Promise<PinRow | undefined> {
    return await this.#one('getPin', 'SELECT * FROM pins WHERE workspace_id = $1 AND cid = $2', [workspaceId, cid], options)
  }

  async deletePin (workspaceId: string, cid: string, options?: AbortOptions): Promise<boolean> {
    return await this.#count('deletePin', 'DELETE FROM pins WHERE workspace_id = $1 AND cid = $2', [workspaceId, cid], options) > 0
  }

  async listPins (workspaceId: string, options?: AbortOptions): Promise<PinRow[]> {
    return await this.#rows('listPins', 'SELECT * FROM pins WHERE workspace_id = $1 ORDER BY created_at, cid', [workspaceId], options)
  }

  async listAllPins (options?: AbortOptions): Promise<PinRow[]> {
    return await this.#rows('listAllPins', 'SELECT * FROM pins ORDER BY workspace_id, created_at, cid', [], options)
  }

  async setAllocation (workspaceId: string, cid: string, nodeId: string, state: AllocationState, error: string | null, at: number, options?: AbortOptions): Promise<void> {
    await this.#count('setAllocation', `INSERT INTO pin_allocations (workspace_id, cid, node_id, state, error, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (workspace_id, cid, node_id) DO UPDATE SET state = excluded.state, error = excluded.error, updated_at = excluded.updated_at`,
    [workspaceId, cid, nodeId, state, error, at], options)
  }

  async getAllocation (workspaceId: string, cid: string, nodeId: string, options?: AbortOptions): Promise<AllocationRow | undefined> {
    return await this.#one('getAllocation', 'SELECT * FROM pin_allocations WHERE workspace_id = $1 AND cid = $2 AND node_id = $3', [workspaceId, cid, nodeId], options)
  }

  async deleteAllocation (workspaceId: string, cid: string, nodeId: string, options?: AbortOptions): Promise<boolean> {
    return await this.#count('deleteAllocation', 'DELETE FROM pin_allocations WHERE workspace_id = $1 AND cid = $2 AND node_id = $3', [workspaceId, cid, nodeId], options) > 0
  }

  async listAllocationsOfPin (workspaceId: string, cid: string, options?: AbortOptions): Promise<AllocationRow[]> {
    return await this.#rows('listAllocationsOfPin', 'SELECT * FROM pin_allocations WHERE workspace_id = $1 AND cid = $2', [workspaceId, cid], options)
  }

  async listAllocationsOfNode (nodeId: string, workspaceId: string, options?: AbortOptions): Promise<AllocationRow[]> {
    return await this.#rows('listAllocationsOfNode', 'SELECT * FROM pin_allocations WHERE node_id = $1 AND workspace_id = $2', [nodeId, workspaceId], options)
  }

  async listAllocationsOfWorkspace (workspaceId: string, options?: AbortOptions): Promise<AllocationRow[]> {
    return await this.#rows('listAllocationsOfWorkspace', 'SELECT * FROM pin_allocations WHERE workspace_id = $1', [workspaceId], options)
  }

  async deleteAllocationsOfNode (nodeId: string, workspaceId: string, options?: AbortOptions): Promise<void> {
    await this.#count('deleteAllocationsOfNode', 'DELETE FROM pin_allocations WHERE node_id = $1 AND workspace_id = $2', [nodeId, workspaceId], options)
  }

  async setAllocations (rows: AllocationRow[], options?: AbortOptions): Promise<void> {
    // ON CONFLICT may touch a row once per statement: the last row of a key wins
    const unique = lastRowOfEachKey(rows)
    for (let i = 0; i < unique.length; i += BULK_ROWS) {
      const chunk = unique.slice(i, i + BULK_ROWS)
      await this.#count('setAllocations', `INSERT INTO pin_allocations (workspace_id, cid, node_id, state, error, updated_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
        ON CONFLICT (workspace_id, cid, node_id) DO UPDATE SET state = excluded.state, error = excluded.error, updated_at = excluded.updated_at`,
      [chunk.map(r => r.workspace_id), chunk.map(r => r.cid), chunk.map(r => r.node_id), chunk.map(r => r.state), chunk.map(r => r.error), chunk.map(r => r.updated_at)], options)
    }
  }

  async setMemberAllocations (rows: AllocationRow[], options?: AbortOptions): Promise<AllocationRow[]> {
    const unique = lastRowOfEachKey(rows)
    const dropped: AllocationRow[] = []
    for (let i = 0; i < unique.length; i += BULK_ROWS) {
      const chunk = unique.slice(i, i + BULK_ROWS)
      // the membership row locked FOR KEY SHARE (what a foreign key's check takes) until the commit: a removal
      // waits for this transaction, or this statement waits for the removal and sees the row gone; only the
      // indexes of the rows left out come back (none, nearly always)
      const res = await this.#rows<{ i: number }>('setMemberAllocations', `WITH f AS (
          SELECT ws, cid, node, state, error, at, i::int AS i,
            EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = ws AND m.node_id = node FOR KEY SHARE) AS member
          FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY AS u(ws, cid, node, state, error, at, i)
        ), written AS (
          INSERT INTO pin_allocations (workspace_id, cid, node_id, state, error, updated_at)
          SELECT ws, cid, node, state, error, at FROM f WHERE member
          ON CONFLICT (workspace_id, cid, node_id) DO UPDATE SET state = excluded.state, error = excluded.error, updated_at = excluded.updated_at
        )
        SELECT i FROM f WHERE NOT member ORDER BY i`,
      [chunk.map(r => r.workspace_id), chunk.map(r => r.cid), chunk.map(r => r.node_id), chunk.map(r => r.state), chunk.map(r => r.error), chunk.map(r => r.updated_at)], options)
      for (const { i } of res) dropped.push(chunk[i - 1])
    }
    return dropped
  }

  async deleteAllocations (workspaceId: string, keys: Array<Pick<AllocationRow, 'cid' | 'node_id'>>, options?: AbortOptions): Promise<number> {
    let deleted = 0
    for (let i = 0; i < keys.length; i += BULK_ROWS) {
      const chunk = keys.slice(i, i + BULK_ROWS)
      deleted += await this.#count('deleteAllocations', `DELETE FROM pin_allocations WHERE workspace_id = $1
        AND (cid, node_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))`, [workspaceId, chunk.map(k => k.cid), chunk.map(k => k.node_id)], options)
    }
    return deleted
  }

  async getMeta (key: string, options?: AbortOptions): Promise<string | undefined> {
    return (await this.#one<{ value: string }>('getMeta', 'SELECT value FROM meta WHERE key = $1', [key], options))?.value
  }

  async setMeta (key: string, value: string, options?: AbortOptions): Promise<void> {
    await this.#count('setMeta', 'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value], options)
  }

  async lockPin (workspaceId: string, cid: string, options?: AbortOptions): Promise<PinRow | undefined> {
    return await this.#one('lockPin', 'SELECT * FROM pins WHERE workspace_id = $1 AND cid = $2 FOR UPDATE', [workspaceId, cid], options)
  }

  async lockPins (workspaceId: string, options?: AbortOptions): Promise<PinRow[]> {
    // cid order: two placers of overlapping pins take the locks in the same order and never deadlock
    return await this.#rows('lockPins', 'SELECT * FROM pins WHERE workspace_id = $1 ORDER BY cid FOR UPDATE', [workspaceId], options)
  }

  async lockPinsOf (workspaceId: string, cids: string[], options?: AbortOptions): Promise<PinRow[]> {
    if (cids.length === 0) return []
    return await this.#rows('lockPinsOf', 'SELECT * FROM pins WHERE workspace_id = $1 AND cid = ANY($2::text[]) ORDER BY cid FOR UPDATE', [workspaceId, cids], options)
  }

  async listAllocationsOfPins (workspaceId: string, cids: string[], options?: AbortOptions): Promise<AllocationRow[]> {
    if (cids.length === 0) return []
    return await this.#rows('listAllocationsOfPins', 'SELECT * FROM pin_allocations WHERE workspace_id = $1 AND cid = ANY($2::text[])', [workspaceId, cids], options)
  }

  async upsertPins (rows: PinRow[], options?: AbortOptions): Promise<StoredPin[]> {
    if (rows.length === 0) return []
    // rows locked in (workspace, cid) order, as lockPins does within a workspace: two writers never deadlock
    const sorted = [...rows].sort(byKey)
    const out = new Map<string, StoredPin>()
    for (let i = 0; i < sorted.length; i += BULK_ROWS) {
      const chunk = sorted.slice(i, i + BULK_ROWS)
      const res = await this.#rows<PinRow & { inserted: boolean }>('upsertPins', `INSERT INTO pins (workspace_id, cid, name, size, replication_min, replication_max, created_at)
        SELECT ws, cid, name, size, rmin, rmax, created
        FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::int[], $7::bigint[]) WITH ORDINALITY AS f(ws, cid, name, size, rmin, rmax, created, i)
        ORDER BY i
        ON CONFLICT (workspace_id, cid) DO UPDATE SET name = COALESCE(excluded.name, pins.name), size = COALESCE(excluded.size, pins.size),
          replication_min = excluded.replication_min, replication_max = excluded.replication_max
        RETURNING *, (xmax = 0) AS inserted`,
      [chunk.map(r => r.workspace_id), chunk.map(r => r.cid), chunk.map(r => r.name), chunk.map(r => r.size), chunk.map(r => r.replication_min),
        chunk.map(r => r.replication_max), chunk.map(r => r.created_at)], options)
      for (const { inserted, ...row } of res) out.set(`${row.workspace_id}\0${row.cid}`, { row, inserted })
    }
    return rows.map(r => {
      const stored = out.get(`${r.workspace_id}\0${r.cid}`)
      if (stored == null) throw new Error('upsertPins: a row was not returned (duplicate key in one call?)')
      return stored
    })
  }

  async listAllocationsOfKeys (keys: Array<Pick<PinRow, 'workspace_id' | 'cid'>>, options?: AbortOptions): Promise<AllocationRow[]> {
    if (keys.length === 0) return []
    const out: AllocationRow[] = []
    for (let i = 0; i < keys.length; i += BULK_ROWS) {
      const chunk = keys.slice(i, i + BULK_ROWS)
      // one index lookup per key, whatever the statistics say (LATERAL, see keyed-statements.ts)
      out.push(...await this.#rows<AllocationRow>('listAllocationsOfKeys', `SELECT a.* FROM unnest($1::text[], $2::text[]) AS k(ws, cid)
        CROSS JOIN LATERAL (SELECT * FROM pin_allocations WHERE workspace_id = k.ws AND cid = k.cid OFFSET 0) a`, [chunk.map(k => k.workspace_id), chunk.map(k => k.cid)], options))
    }
    return out
  }

  async readConfirmations (keys: Array<Pick<AllocationRow, 'workspace_id' | 'cid' | 'node_id'>>, options?: AbortOptions): Promise<ConfirmationRow[]> {
    const out: ConfirmationRow[] = []
    for (let i = 0; i < keys.length; i += BULK_ROWS) {
      const chunk = keys.slice(i, i + BULK_ROWS)
      const rows = await this.#rows<ConfirmationResult>('readConfirmations', READ_CONFIRMATIONS, [chunk.map(k => k.workspace_id), chunk.map(k => k.cid), chunk.map(k => k.node_id)], options)
      for (const r of rows) {
        const k = chunk[r.i - 1]
        out.push({
          member: r.member,
          pin: r.pin_cid == null ? undefined : { workspace_id: k.workspace_id, cid: k.cid, name: r.name, size: r.size, replication_min: r.replication_min, replication_max: r.replication_max, created_at: r.created_at },
          state: r.state
        })
      }
    }
    return out
  }

  async confirmAllocations (keys: Array<Pick<AllocationRow, 'workspace_id' | 'cid' | 'node_id'>>, at: number, options?: AbortOptions): Promise<boolean[]> {
    const written = keys.map(() => false)
    for (let i = 0; i < keys.length; i += BULK_ROWS) {
      const chunk = keys.slice(i, i + BULK_ROWS)
      const rows = await this.#rows<{ i: number }>('confirmAllocations', CONFIRM_ALLOCATIONS, [chunk.map(k => k.workspace_id), chunk.map(k => k.cid), chunk.map(k => k.node_id), at], options)
      for (const r of rows) written[i + r.i - 1] = true
    }
    return written
  }

  async lockPinsOfKeys (keys: Array<Pick<PinRow, 'workspace_id' | 'cid'>>, options?: AbortOptions): Promise<PinRow[]> {
    if (keys.length === 0) return []
    // (workspace, cid) order, as upsertPins takes them: two writers never deadlock. Locked one index lookup at a time
    // in the order of the sorted keys (LATERAL, see keyed-statements.ts)
    const sorted = [...keys].sort(byKey)
    return await this.#rows('lockPinsOfKeys', `SELECT p.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(ws, cid, i)
      CROSS JOIN LATERAL (SELECT * FROM pins WHERE workspace_id = k.ws AND cid = k.cid FOR UPDATE) p
      ORDER BY k.i`, [sorted.map(k => k.workspace_id), sorted.map(k => k.cid)], options)
  }

  async listAllocationsOfNodeIfMember (nodeId: string, workspaceId: string, options?: AbortOptions): Promise<AllocationRow[] | undefined> {
    // no row: not a member; one row of NULLs: a member without allocations (the membership held FOR SHARE, as isMember does)
    const rows = await this.#rows<AllocationRow>('listAllocationsOfNodeIfMember', `SELECT a.* FROM
        (SELECT 1 FROM memberships WHERE workspace_id = $2 AND node_id = $1 FOR SHARE) m
        LEFT JOIN pin_allocations a ON a.node_id = $1 AND a.workspace_id = $2`, [nodeId, workspaceId], options)
    return rows.length === 0 ? undefined : rows.filter(r => r.cid != null)
  }

  async getAllocationIfMember (workspaceId: string, cid: string, nodeId: string, options?: AbortOptions): Promise<{ allocation: AllocationRow | undefined } | undefined> {
    const rows = await this.#rows<AllocationRow>('getAllocationIfMember', `SELECT a.* FROM
        (SELECT 1 FROM memberships WHERE workspace_id = $1 AND node_id = $3 FOR SHARE) m
        LEFT JOIN pin_allocations a ON a.workspace_id = $1 AND a.cid = $2 AND a.node_id = $3`, [workspaceId, cid, nodeId], options)
    return rows.length === 0 ? undefined : { allocation: rows[0].cid == null ? undefined : rows[0] }
  }

  async upsertPeerIfMember (workspaceId: string, nodeId: string, peerId: string, addresses: string[], at: number, options?: AbortOptions): Promise<boolean> {
    return await this.#count('upsertPeerIfMember', `INSERT INTO peers (workspace_id, node_id, peer_id, addresses, updated_at)
      SELECT $1::text, $2::text, $3, $4, $5
      WHERE EXISTS (SELECT 1 FROM memberships WHERE workspace_id = $1::text AND node_id = $2::text FOR SHARE)
      ON CONFLICT (workspace_id, node_id) DO UPDATE SET peer_id = excluded.peer_id, addresses = excluded.addresses, updated_at = excluded.updated_at`,
    [workspaceId, nodeId, peerId, JSON.stringify(addresses), at], options) > 0
  }
}
