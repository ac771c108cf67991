/**
 * The orchestrator's store on PostgreSQL (`pg`), for several orchestrator
 * instances sharing one database. Same rows and operations as the SQLite
 * store; see {@link AsyncOrchestratorStore} for the contract.
 *
 * Concurrency: every statement runs in PostgreSQL's default READ COMMITTED.
 * What must not race (placing a pin) locks the pin's row with
 * `SELECT ... FOR UPDATE` inside a transaction ({@link AsyncStoreOperations.lockPin});
 * an upsert of the same pin takes the same row lock. A transaction whose
 * connection dies is rolled back by the server, so a crash mid-placement
 * leaves the previous, committed allocations.
 *
 * Swarm keys are rows like any other: never logged, and not part of any error
 * this module throws (the connection URL is not either: it may hold a password).
 */
import pg from 'pg'
import { ConflictError, InvalidConfigError } from '../../errors.js'
import { migrate, STORE_MIGRATIONS } from './postgres-migrations.js'
import { throwIfAborted } from '../../util/abort.js'
import { PostgresOperations, SwarmKeySeal } from './postgres-operations.js'
import { decryptSwarmKey, encryptedKeyId, isEncryptedKey } from '../store/key-encryption.js'
import type { KeyEncryptionKey } from '../store/key-encryption.js'
import { KeyEncryptionKeyError } from '../../errors.js'
import type { AsyncOrchestratorStore, AsyncStoreTransaction, WorkspaceRow } from '../store/async-store.js'
import type { OrchestratorLogger } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'

export interface PostgresStoreInit {
  /** `postgres://user:password@host:port/database` (or anything `pg` accepts). */
  connectionString: string
  /**
   * Connections in the pool (placement transactions hold one each).
   * @default 10
   */
  maxConnections?: number
  /**
   * How long a statement may wait for a row lock before it fails, in ms.
   * @default 10000
   */
  lockTimeoutMs?: number
  /** @default silent */
  logger?: OrchestratorLogger
  /**
   * Encrypts the swarm keys at rest, as on SQLite (`store/key-encryption.ts`).
   * Plain keys found on open are encrypted then; required when the database
   * holds encrypted keys. @default none (keys in plain text)
   */
  keyEncryptionKey?: KeyEncryptionKey
}

const INT8_OID = 20

/** BIGINT as a JS number: milliseconds and byte counts stay below 2^53. */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => Number(v)
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text')
  }) as typeof pg.types.getTypeParser
}

const silent: OrchestratorLogger = { debug () {}, info () {}, warn () {}, error () {} }

/** A description of the server for logs and errors, without credentials. */
export function describeConnection (connectionString: string): string {
  try {
    const u = new URL(connectionString)
    return `${u.protocol}//${u.hostname}${u.port !== '' ? `:${u.port}` : ''}${u.pathname}`
  } catch {
    return '(unparseable connection string)'
  }
}

/** Parses the connection string, or throws an {@link InvalidConfigError} that does not echo it. */
export function checkConnectionString (connectionString: string): void {
  let u: URL
  try {
    u = new URL(connectionString)
  } catch {
    throw new InvalidConfigError('The PostgreSQL connection string is not a URL')
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new InvalidConfigError(`A PostgreSQL connection string starts with postgres:// (got ${u.protocol}//)`)
  }
}

/**
 * Connects, migrates to the current schema (one instance at a time) and
 * returns the store.
 *
 * @example
 * ```ts
 * const store = await createPostgresStore({ connectionString: process.env.DATABASE_URL })
 * await store.transaction(async tx => {
 *   const pin = await tx.lockPin('ws', 'bafy...')
 *   // place it: no other instance places this pin until the commit
 * })
 * await store.close()
 * ```
 */
export async function createPostgresStore (init: PostgresStoreInit, options?: AbortOptions): Promise<AsyncOrchestratorStore> {
  throwIfAborted(options?.signal)
  checkConnectionString(init.connectionString)
  const log = init.logger ?? silent
  const pool = new pg.Pool({
    connectionString: init.connectionString,
    max: init.maxConnections ?? 10,
    types: PG_TYPES,
    options: `-c lock_timeout=${Math.max(0, Math.floor(init.lockTimeoutMs ?? 10_000))}`
  })
  // an idle connection that dies (server restart, pg_terminate_backend) is dropped from the pool; the next query opens another
  pool.on('error', (err) => { log.warn({ err: err.message, server: describeConnection(init.connectionString) }, 'idle PostgreSQL connection lost') })
  try {
    const client = await pool.connect()
    try {
      await migrate(client, 'store', STORE_MIGRATIONS)
    } finally {
      client.release()
    }
  } catch (err) {
    await pool.end()
    throw err
  }
  const store = new PostgresStore(pool, log, new SwarmKeySeal(init.keyEncryptionKey))
  try {
    await store.checkKeys()
  } catch (err) {
    await store.close()
    throw err
  }
  return store
}

class PostgresTransaction extends PostgresOperations implements AsyncStoreTransaction {
  readonly #depth: number

  constructor (client: pg.PoolClient, keys: SwarmKeySeal, depth: number) {
    super(client, keys)
    this.#depth = depth
  }

  async transaction<T>(fn: (tx: AsyncStoreTransaction) => Promise<T>, options?: AbortOptions): Promise<T> {
    throwIfAborted(options?.signal)
    const client = this.db as pg.PoolClient
    const savepoint = `sp_${this.#depth + 1}`
    await client.query(`SAVEPOINT ${savepoint}`)
    try {
      const result = await fn(new PostgresTransaction(client, this.keys, this.#depth + 1))
      await client.query(`RELEASE SAVEPOINT ${savepoint}`)
      return result
    } catch (err) {
      await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`)
      throw err
    }
  }
}

class PostgresStore extends PostgresOperations implements AsyncOrchestratorStore {
  readonly dialect = 'postgres' as const
  readonly #pool: pg.Pool
  readonly #log: OrchestratorLogger
  #closed = false

  constructor (pool: pg.Pool, log: OrchestratorLogger, keys: SwarmKeySeal) {
    super(pool, keys)
    this.#pool = pool
    this.#log = log
  }

  get encryptsKeys (): boolean { return this.keys.kek != null }

  /** Throws when a stored key cannot be read with the KEK given; encrypts plain keys when a KEK is given. */
  async checkKeys (): Promise<void> {
    const rows = (await this.db.query<WorkspaceRow>('SELECT * FROM workspaces')).rows
    const encrypted = rows.filter(r => isEncryptedKey(r.swarm_key))
    const kek = this.keys.kek
    if (encrypted.length > 0) {
      if (kek == null) throw new KeyEncryptionKeyError('The database holds encrypted swarm keys: give the key-encryption key (OTHERTHING_KEK, OTHERTHING_KEK_FILE or keyEncryptionKey)')
      const other = encrypted.find(r => encryptedKeyId(r.swarm_key) !== kek.id)
      if (other != null) decryptSwarmKey(kek, other.id, other.swarm_key) // throws the typed error
    }
    if (kek != null && encrypted.length < rows.length) await this.rotateKeyEncryptionKey(kek)
  }

  /** Re-encrypts every key under `next` in one transaction (rows locked: two instances rotating wait for each other). */
  async rotateKeyEncryptionKey (next: KeyEncryptionKey | null, options?: AbortOptions): Promise<number> {
    const previous = this.keys.kek
    throwIfAborted(options?.signal)
    const seal = new SwarmKeySeal(next ?? undefined)
    const client = await this.#pool.connect()
    let count: number
    try {
      await client.query('BEGIN')
      const rows = (await client.query<WorkspaceRow>('SELECT * FROM workspaces ORDER BY id FOR UPDATE')).rows
      for (const row of rows) {
        const plain = decryptSwarmKey(previous, row.id, row.swarm_key)
        await client.query('UPDATE workspaces SET swarm_key = $1 WHERE id = $2', [seal.seal(row.id, plain), row.id])
      }
      await client.query('COMMIT')
      count = rows.length
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => { this.#log.warn({ err: e.message }, 'rollback failed') })
      throw err
    } finally {
      client.release()
    }
    this.keys.kek = seal.kek
    return count
  }

  async transaction<T>(fn: (tx: AsyncStoreTransaction) => Promise<T>, options?: AbortOptions): Promise<T> {
    throwIfAborted(options?.signal)
    const client = await this.#pool.connect()
    let broken: Error | undefined
    // a connection that dies (pg_terminate_backend, network) emits 'error' while checked out
    const onError = (err: Error): void => { broken = err }
    client.on('error', onError)
    try {
      await client.query('BEGIN')
      const result = await fn(new PostgresTransaction(client, this.keys, 0))
      // COMMIT of a transaction in which a statement failed (its error caught by fn) answers ROLLBACK, not an error
      const commit = await client.query('COMMIT')
      if (commit.command === 'ROLLBACK') throw new ConflictError('The transaction was rolled back: a statement in it failed')
      return result
    } catch (err) {
      if (broken == null) {
        try {
          await client.query('ROLLBACK')
        } catch (rollbackErr) {
          broken = rollbackErr as Error
        }
      }
      // the server rolled back already: do not hand the connection back to the pool
      if (broken != null) this.#log.warn({ err: broken.message }, 'PostgreSQL connection lost in a transaction (rolled back by the server)')
      throw err
    } finally {
      client.removeListener('error', onError)
      client.release(broken)
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end()
  }
}
