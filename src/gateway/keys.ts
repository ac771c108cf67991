/**
 * Workspace keys for a gateway that runs in another process than the
 * orchestrator: the orchestrator's SQLite file, opened read-only for each
 * lookup. In the same process use `orchestrator.swarmKeyFor` (the gateway's
 * default), which also works with a `':memory:'` database.
 * The key goes straight to the storage node (memory); it is never logged.
 */
import Database from 'better-sqlite3'
import { NotFoundError } from '../errors.js'
import { decryptSwarmKey, resolveKeyEncryptionKey } from '../orchestrator/store/key-encryption.js'
import type { KeyEncryptionKeySource } from '../orchestrator/store/key-encryption.js'

/**
 * A `swarmKey` function for `createWorkspaceGateway` reading the
 * orchestrator's database (`<dataDir>/otherthing-orchestrator.db`).
 *
 * @example
 * ```ts
 * const swarmKey = swarmKeyFromDatabase(join(dataDir, DATABASE_FILE_NAME))
 * ```
 *
 * Keys encrypted at rest are decrypted with the same key-encryption key as the
 * orchestrator's (`options`, else `OTHERTHING_KEK` / `OTHERTHING_KEK_FILE`).
 */
export function swarmKeyFromDatabase (databasePath: string, options: KeyEncryptionKeySource = {}): (workspaceId: string) => string {
  const kek = resolveKeyEncryptionKey(options)
  return (workspaceId: string): string => {
    const db = new Database(databasePath, { readonly: true, fileMustExist: true })
    try {
      db.pragma('busy_timeout = 5000')
      const row = db.prepare('SELECT swarm_key FROM workspaces WHERE id = ?').get(workspaceId) as { swarm_key: string } | undefined
      if (row == null) throw new NotFoundError(`Workspace ${workspaceId} not found`)
      return decryptSwarmKey(kek, workspaceId, row.swarm_key)
    } finally {
      db.close()
    }
  }
}
