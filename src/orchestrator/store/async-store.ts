/**
 * The orchestrator's store as an asynchronous interface, the shape both
 * engines can implement: PostgreSQL ({@link createPostgresStore}) and the
 * embedded SQLite store (through {@link asyncSqliteStore}). Same rows, same
 * operations as `../store.ts`, plus the two row locks placement needs when
 * several orchestrator instances share one database.
 *
 * Writes that must stand or fall together go through {@link AsyncOrchestratorStore.transaction}:
 * the callback gets a handle bound to the transaction, and every call on that
 * handle is part of it. Calls on the store itself are not: inside the
 * callback, use only the handle (on SQLite a call on the store waits for the
 * transaction to end, so awaiting it there never returns; on PostgreSQL it
 * runs on another connection and may wait on the transaction's row locks).
 * A statement that fails inside a transaction spoils the whole transaction
 * on PostgreSQL, even when its error is caught (the commit then fails with a
 * `ConflictError`): to carry on after an expected failure, run the statement
 * in a nested `transaction` (a savepoint), which behaves the same on both.
 */
import type { AllocationRow, AllocationState, NodeRow, PeerRow, PinRow, WorkspaceRow } from './types.js'
import type { KeyEncryptionKey } from './key-encryption.js'
import type { AbortOptions } from '@libp2p/interface'

export type { AllocationRow, AllocationState, NodeRow, PeerRow, PinRow, WorkspaceRow }

/** Every row operation, each asynchronous with `options?: AbortOptions` last. */
export interface AsyncStoreOperations {
  insertWorkspace(row: WorkspaceRow, options?: AbortOptions): Promise<void>
  getWorkspace(id: string, options?: AbortOptions): Promise<WorkspaceRow | undefined>
  listWorkspaces(options?: AbortOptions): Promise<WorkspaceRow[]>
  setWorkspaceKey(id: string, swarmKey: string, keyVersion: number, options?: AbortOptions): Promise<void>

  insertNode(row: Pick<NodeRow, 'id' | 'name' | 'token_hash' | 'created_at'>, options?: AbortOptions): Promise<void>
  getNode(id: string, options?: AbortOptions): Promise<NodeRow | undefined>
  getNodeByTokenHash(hash: Buffer, options?: AbortOptions): Promise<NodeRow | undefined>
  listNodes(options?: AbortOptions): Promise<NodeRow[]>
  setNodeName(id: string, name: string, options?: AbortOptions): Promise<void>
  touchNode(id: string, at: number, options?: AbortOptions): Promise<void>
  setNodeStorage(id: string, used: number, quota: number, free: number, at: number, driveFree?: number | null, options?: AbortOptions): Promise<void>

  /** `false` when the node already was a member. */
  addMember(workspaceId: string, nodeId: string, at: number, options?: AbortOptions): Promise<boolean>
  removeMember(workspaceId: string, nodeId: string, options?: AbortOptions): Promise<boolean>
  isMember(workspaceId: string, nodeId: string, options?: AbortOptions): Promise<boolean>
  listMemberIds(workspaceId: string, options?: AbortOptions): Promise<string[]>
  listWorkspaceIdsOfNode(nodeId: string, options?: AbortOptions): Promise<string[]>

  upsertPeer(workspaceId: string, nodeId: string, peerId: string, addresses: string[], at: number, options?: AbortOptions): Promise<void>
  getPeer(workspaceId: string, nodeId: string, options?: AbortOptions): Promise<PeerRow | undefined>
  listPeers(workspaceId: string, options?: AbortOptions): Promise<PeerRow[]>

  /** Inserts or updates; an update keeps a known `size` when the new row has none. */
  upsertPin(row: PinRow, options?: AbortOptions): Promise<void>
  getPin(workspaceId: string, cid: string, options?: AbortOptions): Promise<PinRow | undefined>
  deletePin(workspaceId: string, cid: string, options?: AbortOptions): Promise<boolean>
  listPins(workspaceId: string, options?: AbortOptions): Promise<PinRow[]>
  listAllPins(options?: AbortOptions): Promise<PinRow[]>

  setAllocation(workspaceId: string, cid: string, nodeId: string, state: AllocationState, error: string | null, at: number, options?: AbortOptions): Promise<void>
  getAllocation(workspaceId: string, cid: string, nodeId: string, options?: AbortOptions): Promise<AllocationRow | undefined>
  deleteAllocation(workspaceId: string, cid: string, nodeId: string, options?: AbortOptions): Promise<boolean>
  listAllocationsOfPin(workspaceId: string, cid: string, options?: AbortOptions): Promise<AllocationRow[]>
  listAllocationsOfNode(nodeId: string, workspaceId: string, options?: AbortOptions): Promise<AllocationRow[]>
  listAllocationsOfWorkspace(workspaceId: string, options?: AbortOptions): Promise<AllocationRow[]>
  deleteAllocationsOfNode(nodeId: string, workspaceId: string, options?: AbortOptions): Promise<void>

  /**
   * {@link setAllocation} for many rows in one round trip (placement of a
   * whole workspace); a key given twice keeps its last row. Atomic on its own.
   */
  setAllocations(rows: AllocationRow[], options?: AbortOptions): Promise<void>
  /**
   * {@link setAllocations} for the rows whose node is a member of the row's
   * workspace, checked by the same statement: the membership row stays locked
   * (`FOR KEY SHARE` on PostgreSQL) until the transaction ends, so a removal on
   * another connection waits for this transaction, or this statement waits for
   * the removal and then finds the member gone. Returns the rows it left out
   * (the node is not, or no longer, a member; an unknown node is none), in the
   * order given; a key given twice keeps its last row. Atomic on its own.
   */
  setMemberAllocations(rows: AllocationRow[], options?: AbortOptions): Promise<AllocationRow[]>
  /** Deletes many allocations of one workspace in one round trip; returns how many existed. */
  deleteAllocations(workspaceId: string, keys: Array<Pick<AllocationRow, 'cid' | 'node_id'>>, options?: AbortOptions): Promise<number>

  getMeta(key: string, options?: AbortOptions): Promise<string | undefined>
  setMeta(key: string, value: string, options?: AbortOptions): Promise<void>

  /**
   * Reads a pin and locks its row until the transaction ends: a second
   * placer of the same pin (on this or another instance) waits here, then
   * sees the first one's allocations. Outside a transaction it only reads.
   */
  lockPin(workspaceId: string, cid: string, options?: AbortOptions): Promise<PinRow | undefined>
  /** {@link lockPin} for every pin of a workspace, locked in `cid` order so that placers never deadlock. */
  lockPins(workspaceId: string, options?: AbortOptions): Promise<PinRow[]>
  /** {@link lockPin} for some pins of a workspace in one round trip, locked and returned in `cid` order; unknown cids are left out. */
  lockPinsOf(workspaceId: string, cids: string[], options?: AbortOptions): Promise<PinRow[]>
  /** {@link listAllocationsOfPin} for some pins of a workspace in one round trip. */
  listAllocationsOfPins(workspaceId: string, cids: string[], options?: AbortOptions): Promise<AllocationRow[]>
}

/** A handle bound to one open transaction; `transaction` on it opens a savepoint. */
export interface AsyncStoreTransaction extends AsyncStoreOperations {
  transaction<T>(fn: (tx: AsyncStoreTransaction) => Promise<T>, options?: AbortOptions): Promise<T>
}

export interface AsyncOrchestratorStore extends AsyncStoreOperations {
  readonly dialect: 'sqlite' | 'postgres'
  /** Whether swarm keys are written encrypted (a key-encryption key was given). */
  readonly encryptsKeys: boolean
  /**
   * Re-encrypts every swarm key under `next` (`null`: plain text) in one
   * transaction; returns how many keys were rewritten.
   */
  rotateKeyEncryptionKey(next: KeyEncryptionKey | null, options?: AbortOptions): Promise<number>
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when
   * it throws (or when the connection dies before the commit, so a crash
   * mid-placement leaves the rows as they were).
   */
  transaction<T>(fn: (tx: AsyncStoreTransaction) => Promise<T>, options?: AbortOptions): Promise<T>
  close(): Promise<void>
}
