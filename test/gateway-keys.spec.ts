/**
 * `swarmKeyFromDatabase` (a gateway in another process reading workspace
 * keys) on both stores: the orchestrator's SQLite file and its PostgreSQL
 * database, keys encrypted with a key-encryption key in both. It gives the
 * key the orchestrator gives, and typed errors for an unknown workspace, a
 * workspace without a key, and a missing or wrong key-encryption key.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { swarmKeyFromDatabase } from '../src/gateway/index.js'
import { createOrchestrator, DATABASE_FILE_NAME } from '../src/orchestrator/index.js'
import { logCleanupError } from './helpers/cleanup.js'
import { sql, usePostgres } from './helpers/postgres.js'

const postgres = usePostgres()

interface Engine {
  name: string
  skip: boolean
  /** Where the orchestrator keeps its state, and how it is given to `swarmKeyFromDatabase`. */
  database: () => Promise<string>
  /** Empties a workspace's stored key, behind the orchestrator's back. */
  dropKey: (database: string, workspaceId: string) => Promise<void>
}

const cleanup: Array<() => Promise<void>> = []
afterAll(async () => { for (const fn of cleanup.reverse()) await fn().catch(logCleanupError) })

const engines: Engine[] = [
  {
    name: 'SQLite',
    skip: false,
    database: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gateway-keys-'))
      cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
      return join(dir, DATABASE_FILE_NAME)
    },
    dropKey: async (path, workspaceId) => {
      const db = new Database(path)
      try { db.prepare("UPDATE workspaces SET swarm_key = '' WHERE id = ?").run(workspaceId) } finally { db.close() }
    }
  },
  {
    name: 'PostgreSQL',
    skip: postgres.skip != null,
    database: async () => await postgres.createDatabase(),
    dropKey: async (url, workspaceId) => { await sql(url, "UPDATE workspaces SET swarm_key = '' WHERE id = $1", [workspaceId]) }
  }
]

for (const engine of engines) {
  describe.skipIf(engine.skip)(`swarmKeyFromDatabase on ${engine.name}`, () => {
    it('reads the key the orchestrator hands out, decrypted with the KEK, and fails with typed errors', async () => {
      const database = await engine.database()
      const kek = randomBytes(32).toString('hex')
      const orch = createOrchestrator({ database, port: 0, keyEncryptionKey: kek })
      await orch.start()
      try {
        const team = (await orch.createWorkspace({ id: 'team', name: 'Team' })).id
        const other = (await orch.createWorkspace({ id: 'other', name: 'Other' })).id
        const read = swarmKeyFromDatabase(database, { keyEncryptionKey: kek })
        expect(await read(team)).toBe(await orch.swarmKeyFor(team))
        expect(await read(other)).toBe(await orch.swarmKeyFor(other))
        expect(await read(team)).toMatch(/^[0-9a-f]{64}$/)

        // a rotation made by the orchestrator is what the next lookup reads
        await orch.rotateKey(team)
        expect(await read(team)).toBe(await orch.swarmKeyFor(team))

        await expect(read('nope')).rejects.toMatchObject({ name: 'WorkspaceNotFoundError', code: 'ERR_WORKSPACE_NOT_FOUND' })
        // keys are encrypted at rest: no KEK (none in the environment either), or another one, does not open them
        await expect(swarmKeyFromDatabase(database, { env: {} })(team)).rejects.toMatchObject({ code: 'ERR_KEY_ENCRYPTION_KEY' })
        await expect(swarmKeyFromDatabase(database, { keyEncryptionKey: randomBytes(32) })(team)).rejects.toMatchObject({ code: 'ERR_KEY_ENCRYPTION_KEY' })
        const aborted = new AbortController()
        aborted.abort()
        await expect(read(team, { signal: aborted.signal })).rejects.toMatchObject({ name: 'AbortError' })

        await engine.dropKey(database, other)
        await expect(read(other)).rejects.toMatchObject({ name: 'SwarmKeyNotFoundError', code: 'ERR_SWARM_KEY_NOT_FOUND' })
        // the message names the workspace, never a key
        await expect(read(other)).rejects.toThrow(/other/)
      } finally {
        await orch.stop()
      }
    })
  })
}
