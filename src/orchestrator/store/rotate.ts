/** Key-encryption key rotation on a stopped orchestrator's database (what a CLI command calls). */
import { openOrchestratorStore } from './sqlite.js'
import { parseKeyEncryptionKey } from './key-encryption.js'

export interface RotateKeyEncryptionKeyInit {
  /** The orchestrator's SQLite file. */
  databasePath: string
  /** The current KEK (omit when the keys are in plain text). */
  from?: string | Uint8Array
  /** The new KEK; `null` stores the keys in plain text again. */
  to: string | Uint8Array | null
}

/**
 * Re-encrypts every swarm key of the database under a new key-encryption key,
 * in one transaction (all or none); returns how many keys were rewritten.
 *
 * @throws {KeyEncryptionKeyError} `from` is missing or wrong, or a KEK is malformed
 * @example
 * ```ts
 * rotateKeyEncryptionKey({ databasePath: './state/otherthing-orchestrator.db', from: process.env.OLD_KEK, to: process.env.OTHERTHING_KEK })
 * ```
 */
export function rotateKeyEncryptionKey (init: RotateKeyEncryptionKeyInit): number {
  const to = init.to == null ? null : parseKeyEncryptionKey(init.to)
  const store = openOrchestratorStore({ path: init.databasePath, ...(init.from != null ? { keyEncryptionKey: parseKeyEncryptionKey(init.from) } : {}) })
  try {
    return store.rotateKeyEncryptionKey(to)
  } finally {
    store.close()
  }
}
