/**
 * The CLI's `orchestrator` command: starts an orchestrator with its SQLite
 * database in the app-data folder (or `--db`), logging through pino.
 */
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
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
  await mkdir(dirname(databasePath), { recursive: true })
  const orchestrator = createOrchestrator({
    host: init.host ?? '127.0.0.1',
    port: init.port ?? 0,
    databasePath,
    ...(init.adminToken !== undefined ? { adminToken: init.adminToken } : {}),
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
