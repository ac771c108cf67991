/**
 * The orchestrator's persistent state, engine-neutral: the row types and the
 * {@link OrchestratorStore} interface. SQLite (`sqlite.ts`) is the embedded
 * implementation; another engine (PostgreSQL, issue #14) implements the same
 * interface. Swarm keys go in and come out in plain text (an implementation
 * may encrypt them at rest).
 *
 * Every method is synchronous, as better-sqlite3 is. A PostgreSQL store is
 * asynchronous: it needs this interface with `Promise` results, and the
 * orchestrator's writers awaiting them. All database access goes through this
 * interface and `OrchestratorContext.tx()` (commands, handlers, views,
 * replication), so that change stays in those files; the contract suite
 * (`test/orchestrator-store.spec.ts`) is written to run on either.
 */

import type { KeyEncryptionKey } from './key-encryption.js'

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

export interface OrchestratorStore {
  /** Runs `fn` in a transaction (a savepoint when one is open): committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => T): T
  /** Whether swarm keys are written encrypted (a key-encryption key was given). */
  readonly encryptsKeys: boolean
  /**
   * Re-encrypts every swarm key under `next` (`null`: stores them in plain text
   * again) in one transaction; returns how many keys were rewritten.
   * @throws {KeyEncryptionKeyError} a stored key does not open with the current KEK
   */
  rotateKeyEncryptionKey(next: KeyEncryptionKey | null): number
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


/** The rows of a bulk allocation write, the last row of each (workspace, cid, node) key only, in first-seen order. */
export function lastRowOfEachKey (rows: AllocationRow[]): AllocationRow[] {
  const byKey = new Map<string, AllocationRow>()
  for (const r of rows) byKey.set(`${r.workspace_id}\0${r.cid}\0${r.node_id}`, r)
  return byKey.size === rows.length ? rows : [...byKey.values()]
}

/** A pin row as {@link BulkStoreOperations.upsertPins} stored it, and whether it is new. */
export interface StoredPin {
  row: PinRow
  inserted: boolean
}

/** What a `content_pinned` confirmation needs to know, read for many at once ({@link BulkStoreOperations.readConfirmations}). */
export interface ConfirmationRow {
  /** The node is a member of the workspace (its membership row is held FOR SHARE until the transaction ends). */
  member: boolean
  pin: PinRow | undefined
  /** The node's allocation of the pin, if any. */
  state: AllocationState | null
}

/**
 * Multi-row statements for group commit (PostgreSQL): many pin() calls and
 * many confirmations in one round trip each. An engine without them (SQLite,
 * in process: a statement costs microseconds) runs the one-row operations.
 */
export interface BulkStoreOperations {
  /**
   * Inserts or updates many pins (distinct keys), locking their rows until the
   * transaction ends, in (workspace, cid) order so that two writers never
   * deadlock. An update keeps a known name and size when the new row has
   * none, and the first creation time. Returns the rows as stored, in the order given.
   */
  upsertPins(rows: PinRow[]): Promise<StoredPin[]>
  /** The allocations of many pins (of any workspaces) in one round trip. */
  listAllocationsOfKeys(keys: Array<Pick<PinRow, 'workspace_id' | 'cid'>>): Promise<AllocationRow[]>
  /** For each (workspace, cid, node): membership (held FOR SHARE), the pin, the node's allocation state; in the order given. */
  readConfirmations(keys: Array<Pick<AllocationRow, 'workspace_id' | 'cid' | 'node_id'>>): Promise<ConfirmationRow[]>
  /**
   * A node's `content_pinned` of copies it was asked for, in one statement (outside a transaction: one round trip):
   * marks `pinned` each (workspace, cid, node) whose allocation exists and is not `unpinning`, and whose pin exists
   * with a known size. Returns, in the order given, whether each was written; the others (no allocation, an
   * `unpinning` one, no pin, a size to record, not a member) are left as they were, for the caller's usual path.
   * Distinct keys.
   */
  confirmAllocations(keys: Array<Pick<AllocationRow, 'workspace_id' | 'cid' | 'node_id'>>, at: number): Promise<boolean[]>
  /**
   * `upsertPeer` when the node is a member of the workspace, checked in the
   * same statement (its membership row held FOR SHARE until the transaction
   * ends); `false` (nothing written) when it is not.
   */
  /** Locks and returns the pins of many workspaces (those that exist), in (workspace, cid) order, until the transaction ends. */
  lockPinsOfKeys(keys: Array<Pick<PinRow, 'workspace_id' | 'cid'>>): Promise<PinRow[]>
  /** `listAllocationsOfNode` when the node is a member (membership held FOR SHARE, same statement); `undefined` when it is not. */
  listAllocationsOfNodeIfMember(nodeId: string, workspaceId: string): Promise<AllocationRow[] | undefined>
  /** `getAllocation` when the node is a member (membership held FOR SHARE, same statement); `undefined` when it is not. */
  getAllocationIfMember(workspaceId: string, cid: string, nodeId: string): Promise<{ allocation: AllocationRow | undefined } | undefined>
  upsertPeerIfMember(workspaceId: string, nodeId: string, peerId: string, addresses: string[], at: number): Promise<boolean>
}

/** Whether a store handle has the multi-row statements of {@link BulkStoreOperations}. */
export function hasBulk (db: object): db is BulkStoreOperations {
  return typeof (db as Partial<BulkStoreOperations>).readConfirmations === 'function'
}
