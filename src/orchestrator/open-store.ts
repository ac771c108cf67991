/**
 * Which database an orchestrator uses, and opening it: a SQLite file (the
 * embedded default) or PostgreSQL (`database: 'postgres://…'`, or the env
 * variable `DATABASE_URL`), both behind the asynchronous store interface.
 */
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { InvalidStoragePathError } from '../errors.js'
import { asyncSqliteStore } from './store/sqlite-adapter.js'
import type { SyncSqliteStore } from './store/sqlite-adapter.js'
import { createPostgresStore, describeConnection } from './pg/postgres-store.js'
import type { AsyncOrchestratorStore } from './store/async-store.js'
import { openOrchestratorStore } from './store/sqlite.js'
import type { KeyEncryptionKey } from './store/key-encryption.js'
import type { OrchestratorLogger } from './types.js'

/** File name of the database inside `dataDir`. */
export const DATABASE_FILE_NAME = 'otherthing-orchestrator.db'

export type DatabaseChoice = { engine: 'sqlite', path: string } | { engine: 'postgres', url: string }

/** Whether `s` names a PostgreSQL database (`postgres://` or `postgresql://`). */
export function isPostgresUrl (s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s)
}

/**
 * The database of an orchestrator: `database` (a PostgreSQL URL or a SQLite
 * path), else `databasePath`, else `DATABASE_URL` from `env` when it is a
 * PostgreSQL URL, else the SQLite file in `dataDir`.
 */
export function chooseDatabase (init: { database?: string, databasePath?: string, dataDir?: string }, env: NodeJS.ProcessEnv = process.env): DatabaseChoice {
  const given = init.database ?? init.databasePath ?? (env.DATABASE_URL != null && isPostgresUrl(env.DATABASE_URL) ? env.DATABASE_URL : undefined)
  if (given != null && isPostgresUrl(given)) return { engine: 'postgres', url: given }
  return { engine: 'sqlite', path: given ?? join(init.dataDir ?? process.cwd(), DATABASE_FILE_NAME) }
}

/** How a database shows in logs: the file kind or the server without credentials. */
export function describeDatabase (choice: DatabaseChoice): string {
  if (choice.engine === 'postgres') return describeConnection(choice.url)
  return choice.path === ':memory:' ? ':memory:' : 'file'
}

/** Opens (and migrates) the chosen database. */
export async function openStore (choice: DatabaseChoice, init: { keyEncryptionKey?: KeyEncryptionKey, logger?: OrchestratorLogger }): Promise<AsyncOrchestratorStore> {
  const kek = init.keyEncryptionKey != null ? { keyEncryptionKey: init.keyEncryptionKey } : {}
  if (choice.engine === 'postgres') {
    return await createPostgresStore({ connectionString: choice.url, ...kek, ...(init.logger != null ? { logger: init.logger } : {}) })
  }
  if (choice.path !== ':memory:') makeDataDir(dirname(choice.path))
  // the SQLite store keeps its connection on `db`, which the adapter needs for BEGIN / COMMIT
  return asyncSqliteStore(openOrchestratorStore({ path: choice.path, ...kek }) as unknown as SyncSqliteStore)
}

/** Creates the database's folder (mode 0700 when new), or throws a typed error. */
function makeDataDir (dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new InvalidStoragePathError(`Cannot create the orchestrator's data folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
}
