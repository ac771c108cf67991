/**
 * Today's synchronous SQLite store behind the {@link AsyncOrchestratorStore}
 * interface, so that one orchestrator (and one test suite) can code against
 * either engine.
 *
 * better-sqlite3 has one connection and its transactions are synchronous,
 * while an async transaction callback yields between statements. So every
 * call goes through one queue: a transaction holds it from BEGIN to COMMIT,
 * and a call made outside the transaction meanwhile waits instead of landing
 * inside it. That serialisation is also what makes `lockPin` a lock here.
 */
import { throwIfAborted } from '../../util/abort.js'
import type { AllocationRow, AsyncOrchestratorStore, AsyncStoreOperations, AsyncStoreTransaction, PinRow } from './async-store.js'
import { InvalidArgumentError } from '../../errors.js'
import type { KeyEncryptionKey } from './key-encryption.js'
import { lastRowOfEachKey } from './types.js'
import type { OrchestratorStore } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

type RowMethod = Exclude<keyof AsyncStoreOperations, 'lockPin' | 'lockPins' | 'lockPinsOf' | 'listAllocationsOfPins' | 'setAllocations' | 'setMemberAllocations' | 'deleteAllocations'>

/**
 * What the adapter needs of the SQLite store: its row methods, `close`, and
 * the connection for BEGIN / COMMIT around an async callback (a synchronous
 * `transaction(fn)` cannot span awaits). `commitBatch` where the store batches.
 */
export type SyncSqliteStore = Pick<OrchestratorStore, RowMethod | 'close' | 'transaction'> & Partial<Pick<OrchestratorStore, 'encryptsKeys' | 'rotateKeyEncryptionKey'>> & {
  readonly db: { exec: (sql: string) => unknown, readonly inTransaction: boolean }
  commitBatch?: () => void
}

const ROW_METHODS: RowMethod[] = [
  'insertWorkspace', 'getWorkspace', 'listWorkspaces', 'setWorkspaceKey',
  'insertNode', 'getNode', 'getNodeByTokenHash', 'listNodes', 'setNodeName', 'touchNode', 'setNodeStorage',
  'addMember', 'removeMember', 'isMember', 'listMemberIds', 'listWorkspaceIdsOfNode',
  'upsertPeer', 'getPeer', 'listPeers',
  'upsertPin', 'getPin', 'deletePin', 'listPins', 'listAllPins',
  'setAllocation', 'getAllocation', 'deleteAllocation', 'listAllocationsOfPin', 'listAllocationsOfNode',
  'listAllocationsOfWorkspace', 'deleteAllocationsOfNode',
  'getMeta', 'setMeta'
]

/** Runs tasks one after the other. */
class Queue {
  #tail: Promise<unknown> = Promise.resolve()

  async run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.#tail.then(task)
    // the next task waits for this one to settle, whatever its outcome (the caller gets the rejection)
    this.#tail = result.then(() => undefined, () => undefined)
    return await result
  }
}

function checkTrailingSignal (args: unknown[]): void {
  const last = args[args.length - 1] as AbortOptions | undefined
  if (last != null && typeof last === 'object' && 'signal' in last) throwIfAborted(last.signal)
}

/** Each row method of `store`, made async; `via` decides how a call is run (queued, or directly inside a transaction). */
function operations (store: SyncSqliteStore, via: <T>(fn: () => T) => Promise<T>): AsyncStoreOperations {
  const ops: Record<string, unknown> = {}
  for (const name of ROW_METHODS) {
    const method = (store[name] as (...args: unknown[]) => unknown).bind(store)
    ops[name] = async (...args: unknown[]) => {
      checkTrailingSignal(args)
      // the sync methods ignore the trailing options argument
      return await via(() => method(...args))
    }
  }
  ops.lockPin = async (workspaceId: string, cid: string, options?: AbortOptions): Promise<PinRow | undefined> => {
    throwIfAborted(options?.signal)
    return await via(() => store.getPin(workspaceId, cid))
  }
  ops.lockPins = async (workspaceId: string, options?: AbortOptions): Promise<PinRow[]> => {
    throwIfAborted(options?.signal)
    return await via(() => store.listPins(workspaceId).sort((a, b) => a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0))
  }
  ops.lockPinsOf = async (workspaceId: string, cids: string[], options?: AbortOptions): Promise<PinRow[]> => {
    throwIfAborted(options?.signal)
    const sorted = [...new Set(cids)].sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
    return await via(() => sorted.map(cid => store.getPin(workspaceId, cid)).filter((p): p is PinRow => p != null))
  }
  ops.listAllocationsOfPins = async (workspaceId: string, cids: string[], options?: AbortOptions): Promise<AllocationRow[]> => {
    throwIfAborted(options?.signal)
    return await via(() => [...new Set(cids)].flatMap(cid => store.listAllocationsOfPin(workspaceId, cid)))
  }
  ops.setAllocations = async (rows: AllocationRow[], options?: AbortOptions): Promise<void> => {
    throwIfAborted(options?.signal)
    await via(() => {
      store.transaction(() => {
        for (const r of rows) store.setAllocation(r.workspace_id, r.cid, r.node_id, r.state, r.error, r.updated_at)
      })
    })
  }
  ops.setMemberAllocations = async (rows: AllocationRow[], options?: AbortOptions): Promise<AllocationRow[]> => {
    throwIfAborted(options?.signal)
    // one connection: no removal can come between the check and the write
    return await via(() => store.transaction(() => lastRowOfEachKey(rows).filter(r => {
      if (!store.isMember(r.workspace_id, r.node_id)) return true
      store.setAllocation(r.workspace_id, r.cid, r.node_id, r.state, r.error, r.updated_at)
      return false
    })))
  }
  ops.deleteAllocations = async (workspaceId: string, keys: Array<Pick<AllocationRow, 'cid' | 'node_id'>>, options?: AbortOptions): Promise<number> => {
    throwIfAborted(options?.signal)
    return await via(() => store.transaction(() => keys.filter(k => store.deleteAllocation(workspaceId, k.cid, k.node_id)).length))
  }
  return ops as unknown as AsyncStoreOperations
}

/** The handles of one store, per savepoint depth: they hold no state but the depth, so each is made once. */
const handles = new WeakMap<SyncSqliteStore, AsyncStoreTransaction[]>()

function transactionHandle (store: SyncSqliteStore, depth: number): AsyncStoreTransaction {
  let list = handles.get(store)
  if (list == null) handles.set(store, list = [])
  return (list[depth] ??= makeTransactionHandle(store, depth))
}

function makeTransactionHandle (store: SyncSqliteStore, depth: number): AsyncStoreTransaction {
  const direct = async <T>(fn: () => T): Promise<T> => fn()
  return {
    ...operations(store, direct),
    async transaction<T>(fn: (tx: AsyncStoreTransaction) => Promise<T>, options?: AbortOptions): Promise<T> {
      throwIfAborted(options?.signal)
      const savepoint = `sp_${depth + 1}`
      store.db.exec(`SAVEPOINT ${savepoint}`)
      try {
        const result = await fn(transactionHandle(store, depth + 1))
        store.db.exec(`RELEASE ${savepoint}`)
        return result
      } catch (err) {
        store.db.exec(`ROLLBACK TO ${savepoint}`)
        store.db.exec(`RELEASE ${savepoint}`)
        throw err
      }
    }
  }
}

/**
 * Wraps an open SQLite store. `close()` closes it.
 *
 * @example
 * ```ts
 * const store = asyncSqliteStore(openOrchestratorStore({ path: ':memory:' }))
 * await store.listWorkspaces() // []
 * ```
 */
export function asyncSqliteStore (store: SyncSqliteStore): AsyncOrchestratorStore {
  const queue = new Queue()
  const queued = async <T>(fn: () => T): Promise<T> => await queue.run(fn)
  return {
    dialect: 'sqlite',
    get encryptsKeys () { return store.encryptsKeys === true },
    async rotateKeyEncryptionKey (next: KeyEncryptionKey | null, options?: AbortOptions): Promise<number> {
      throwIfAborted(options?.signal)
      if (store.rotateKeyEncryptionKey == null) throw new InvalidArgumentError('This store does not encrypt keys')
      const rotate = store.rotateKeyEncryptionKey.bind(store)
      return await queue.run(() => rotate(next))
    },
    ...operations(store, queued),
    async transaction<T>(fn: (tx: AsyncStoreTransaction) => Promise<T>, options?: AbortOptions): Promise<T> {
      throwIfAborted(options?.signal)
      return await queue.run(async () => {
        // a batch the sync API left open would make BEGIN fail
        store.commitBatch?.()
        store.db.exec('BEGIN IMMEDIATE')
        try {
          const result = await fn(transactionHandle(store, 0))
          store.db.exec('COMMIT')
          return result
        } catch (err) {
          if (store.db.inTransaction) store.db.exec('ROLLBACK')
          throw err
        }
      })
    },
    async close (): Promise<void> {
      await queue.run(() => { store.close() })
    }
  }
}
