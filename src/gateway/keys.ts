/**
 * Workspace keys for a gateway that runs in another process than the
 * orchestrator: read from the orchestrator's database for each lookup, a
 * SQLite file (opened read-only) or PostgreSQL (one short connection). In the
 * same process use `orchestrator.swarmKeyFor` (the gateway's default), which
 * also works with a `':memory:'` database.
 * The key goes straight to the storage node (memory); it is never logged.
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import { SwarmKeyNotFoundError, WorkspaceNotFoundError } from '../errors.js'
import { isPostgresUrl } from '../orchestrator/open-store.js'
import { checkConnectionString } from '../orchestrator/pg/postgres-store.js'
import { decryptSwarmKey, resolveKeyEncryptionKey } from '../orchestrator/store/key-encryption.js'
import type { KeyEncryptionKeySource } from '../orchestrator/store/key-encryption.js'
import type { AbortOptions } from '@libp2p/interface'

/** Looks up a workspace's current swarm key (64 hex characters). */
export type SwarmKeyLookup = (workspaceId: string, options?: AbortOptions) => Promise<string>

/** The stored key of a workspace: `undefined` when there is no such workspace, `null` when it has no key. */
type ReadStoredKey = (workspaceId: string) => Promise<string | null | undefined>

/**
 * A `swarmKey` function for `createWorkspaceGateway` reading the
 * orchestrator's database: the SQLite file (`<dataDir>/otherthing-orchestrator.db`)
 * or a PostgreSQL URL (`postgres://…`, the orchestrator's `--database`).
 *
 * @example
 * ```ts
 * const swarmKey = swarmKeyFromDatabase(join(dataDir, DATABASE_FILE_NAME))
 * const shared = swarmKeyFromDatabase(process.env.DATABASE_URL)
 * const key = await shared('team')
 * ```
 *
 * Keys encrypted at rest are decrypted with the same key-encryption key as the
 * orchestrator's (`options`, else `OTHERTHING_KEK` / `OTHERTHING_KEK_FILE`).
 * A lookup throws `WorkspaceNotFoundError` (`ERR_WORKSPACE_NOT_FOUND`) for an
 * unknown workspace, `SwarmKeyNotFoundError` (`ERR_SWARM_KEY_NOT_FOUND`) when
 * the workspace has no key, and `KeyEncryptionKeyError` when the key is
 * encrypted and the key-encryption key is missing or wrong.
 */
export function swarmKeyFromDatabase (database: string, options: KeyEncryptionKeySource = {}): SwarmKeyLookup {
  const kek = resolveKeyEncryptionKey(options)
  const read = isPostgresUrl(database) ? fromPostgres(database) : fromSqlite(database)
  return async (workspaceId: string, lookup?: AbortOptions): Promise<string> => {
    lookup?.signal?.throwIfAborted()
    const shown = String(workspaceId).slice(0, 80)
    const stored = typeof workspaceId === 'string' ? await read(workspaceId) : undefined
    lookup?.signal?.throwIfAborted()
    if (stored === undefined) throw new WorkspaceNotFoundError(`Workspace ${shown} not found`)
    if (stored == null || stored === '') throw new SwarmKeyNotFoundError(`Workspace ${shown} has no swarm key`)
    return decryptSwarmKey(kek, workspaceId, stored)
  }
}

function fromSqlite (path: string): ReadStoredKey {
  return async (workspaceId) => {
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try {
      db.pragma('busy_timeout = 5000')
      const row = db.prepare('SELECT swarm_key FROM workspaces WHERE id = ?').get(workspaceId) as { swarm_key: string | null } | undefined
      return row === undefined ? undefined : row.swarm_key
    } finally {
      db.close()
    }
  }
}

function fromPostgres (url: string): ReadStoredKey {
  checkConnectionString(url)
  return async (workspaceId) => {
    // one connection per lookup, as the SQLite file is opened per lookup: nothing to close, keys are asked for rarely
    const client = new pg.Client({ connectionString: url, application_name: 'otherthing-keys' })
    await client.connect()
    try {
      const res = await client.query<{ swarm_key: string | null }>('SELECT swarm_key FROM workspaces WHERE id = $1', [workspaceId])
      return res.rows.length === 0 ? undefined : res.rows[0].swarm_key
    } finally {
      await client.end()
    }
  }
}
