/**
 * The CLI's `orchestrator` command: starts an orchestrator with its SQLite
 * database in the app-data folder (or `--db`), logging through pino.
 */
import { join } from 'node:path'
import { createOrchestrator } from '../orchestrator/orchestrator.js'
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
  const databasePath = init.dbPath ?? join(defaultAppDataDir(), 'otherthing-orchestrator.db')
  // the orchestrator creates the folder (mode 0700) and the file (mode 0600)
  const orchestrator = createOrchestrator({
    host: init.host ?? '127.0.0.1',
    port: init.port ?? 0,
    databasePath,
    ...(init.adminToken !== undefined ? { adminToken: init.adminToken } : {}),
    ...(init.keyEncryptionKeyFile !== undefined ? { keyEncryptionKeyFile: init.keyEncryptionKeyFile } : {}),
    logger
  })
  const { url, adminUrl } = await orchestrator.start()
  logger.info({ url, adminUrl, databasePath }, 'orchestrator started')
  return {
    orchestrator,
    url,
    adminUrl,
    adminTokenSource: init.adminToken !== undefined ? 'as given' : orchestrator.adminToken,
    async stop () { await orchestrator.stop() }
  }
}
