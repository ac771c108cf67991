/**
 * The CLI's `orchestrator` command: starts an orchestrator with its SQLite
 * database in the app-data folder (or `--db`), or on PostgreSQL
 * (`--database postgres://…`, or env `DATABASE_URL`), logging through pino.
 */
import { join } from 'node:path'
import { createOrchestrator } from '../orchestrator/orchestrator.js'
import { isPostgresUrl } from '../orchestrator/open-store.js'
import { defaultAppDataDir } from '../storage/app-data.js'
import { silentLogger } from './logger.js'
import type { Logger } from './logger.js'
import type { Orchestrator } from '../orchestrator/types.js'

export interface OrchestratorProcessInit {
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (a free port) */
  port?: number
  /** @default `<app-data>/otherthing-orchestrator.db` */
  dbPath?: string
  /** A PostgreSQL URL (or a SQLite path); wins over `dbPath`. @default env `DATABASE_URL` when it is a PostgreSQL URL */
  database?: string
  /** This instance's name among several on one PostgreSQL. @default hostname-pid-random */
  instanceId?: string
  /** Where `DATABASE_URL` is read. @default process.env */
  env?: NodeJS.ProcessEnv
  /** @default a random token, printed once at start */
  adminToken?: string
  /**
   * File holding the key-encryption key of the swarm keys at rest.
   * @default `OTHERTHING_KEK_FILE`, else `OTHERTHING_KEK`, else none (keys in plain text, file mode 0600)
   */
  keyEncryptionKeyFile?: string
  logger?: Logger
}

export interface OrchestratorProcess {
  orchestrator: Orchestrator
  /** WebSocket URL for nodes. */
  url: string
  /** Base URL of the admin API. */
  adminUrl: string
  /** Where the admin token comes from, for people (never a swarm key). */
  adminTokenSource: string
  stop(): Promise<void>
}

export async function startOrchestratorProcess (init: OrchestratorProcessInit = {}): Promise<OrchestratorProcess> {
  const logger = init.logger ?? silentLogger()
  const env = init.env ?? process.env
  const fromEnv = env.DATABASE_URL != null && isPostgresUrl(env.DATABASE_URL) ? env.DATABASE_URL : undefined
  const database = init.database ?? init.dbPath ?? fromEnv ?? join(defaultAppDataDir(), 'otherthing-orchestrator.db')
  // the orchestrator creates the folder (mode 0700) and the file (mode 0600)
  const orchestrator = createOrchestrator({
    host: init.host ?? '127.0.0.1',
    port: init.port ?? 0,
    database,
    ...(init.instanceId !== undefined ? { instanceId: init.instanceId } : {}),
    ...(init.adminToken !== undefined ? { adminToken: init.adminToken } : {}),
    ...(init.keyEncryptionKeyFile !== undefined ? { keyEncryptionKeyFile: init.keyEncryptionKeyFile } : {}),
    logger
  })
  const { url, adminUrl } = await orchestrator.start()
  // the orchestrator logs 'orchestrator started' itself (addresses, the database without its password)
  return {
    orchestrator,
    url,
    adminUrl,
    adminTokenSource: init.adminToken !== undefined ? 'as given' : orchestrator.adminToken,
    async stop () { await orchestrator.stop() }
  }
}
