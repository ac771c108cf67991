/**
 * The runner's logger: pino, JSON lines, with secrets redacted.
 *
 * Nothing this project logs on purpose contains a swarm key (code logs the
 * key's fingerprint instead), and as a second line of defence every field
 * whose name says "key" or "token" is replaced with `[redacted]` before a line
 * is written, at the top level and one object deep.
 */
import { pino } from 'pino'
import type { DestinationStream, Logger, LevelWithSilent } from 'pino'

export type { Logger } from 'pino'

/** Field names that never reach a log line with their value. */
export const REDACTED_FIELDS = [
  'key', 'swarmKey', 'swarm_key', 'ipfs_swarm_key', 'psk', 'newKey',
  'token', 'apiToken', 'nodeToken', 'adminToken', 'authorization', 'password'
]

export interface CreateLoggerInit {
  /**
   * Minimum level written.
   *
   * @default process.env.LOG_LEVEL ?? 'info'
   */
  level?: LevelWithSilent
  /** Name recorded on every line. @default 'otherthing-storage' */
  name?: string
  /**
   * Where lines go: any stream with `write(line)`.
   *
   * @default standard error (so commands that print results keep stdout clean)
   */
  destination?: DestinationStream | NodeJS.WritableStream
  /** Extra fields put on every line (e.g. `{ node: 'A' }`). */
  base?: Record<string, unknown>
}

function redactPaths (): string[] {
  return REDACTED_FIELDS.flatMap(f => [f, `*.${f}`, `headers.${f}`, `req.headers.${f}`])
}

/**
 * Creates the logger used by the node runner, the CLI and the demo.
 *
 * @example
 * ```ts
 * const logger = createLogger({ level: 'debug' })
 * logger.info({ workspaceId, fingerprint: key.fingerprint }, 'joined workspace')
 * ```
 */
export function createLogger (init: CreateLoggerInit = {}): Logger {
  const level = init.level ?? (process.env.LOG_LEVEL as LevelWithSilent | undefined) ?? 'info'
  const destination = init.destination ?? pino.destination({ fd: 2, sync: true })
  return pino({
    name: init.name ?? 'otherthing-storage',
    level,
    base: { pid: process.pid, ...init.base },
    redact: { paths: redactPaths(), censor: '[redacted]' }
  }, destination as DestinationStream)
}

/** A logger that writes nothing (the default when a caller passes none). */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
