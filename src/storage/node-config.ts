/**
 * `node-config.json`: the settings of one storage node, kept at
 * `<storagePath>/otherthing-storage/node-config.json`.
 *
 * The schema is strict: an unknown key makes the whole file invalid, so the
 * file can never carry a swarm key (swarm keys are held in memory only).
 * A corrupt file is reported with {@link InvalidConfigError}, naming the file
 * and the field; it is never reset silently. Writes are atomic (temp file in
 * the same directory, fsync, rename) and the file is created with mode 0600
 * because it may hold API and orchestrator tokens. Error messages never
 * include field values.
 */
import { mkdir, open, readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname, isAbsolute } from 'node:path'
import { logger } from '@libp2p/logger'
import writeFileAtomic from 'write-file-atomic'
import { z } from 'zod'
import { InvalidConfigError } from '../errors.js'
import { defaultAppDataDir } from './app-data.js'
import { isValidWorkspaceId } from './workspace-id.js'
import { throwIfAborted } from '../util/abort.js'

/** Current (and only) version of the file format. */
export const NODE_CONFIG_VERSION = 1

const log = logger('otherthing-storage:node-config')

/** Default node-wide quota: 10 GiB. */
export const DEFAULT_QUOTA_BYTES = 10 * 2 ** 30
/** Default HTTP API host: loopback only. */
export const DEFAULT_API_HOST = '127.0.0.1'
/** Default HTTP API port. */
export const DEFAULT_API_PORT = 5080

export interface NodeConfig {
  /** File format version; always 1. */
  version: 1
  /** Name shown to the orchestrator and other nodes. */
  nodeName: string
  /** Absolute storage path the user chose (the parent of `otherthing-storage/`). */
  storagePath: string
  /** Hard quota over all workspaces, in bytes. */
  quotaBytes: number
  /** Host the node's HTTP API listens on. */
  apiHost: string
  /** Port the node's HTTP API listens on (0: any free port). */
  apiPort: number
  /** Bearer token the HTTP API requires, if any. */
  apiToken?: string
  /** WebSocket (or HTTP) URL of the orchestrator; several instances comma-separated. */
  orchestratorUrl?: string
  /** Token this node presents to the orchestrator. */
  orchestratorToken?: string
  /** Ids of the workspaces this node has joined (valid, unique). */
  workspaces: string[]
}

const nonEmpty = z.string().min(1, 'must not be empty')

/** The zod schema of `node-config.json` (strict: unknown keys are refused). */
export const nodeConfigSchema = z.strictObject({
  version: z.literal(NODE_CONFIG_VERSION),
  nodeName: nonEmpty.max(256, 'must be at most 256 characters'),
  storagePath: nonEmpty.refine(p => isAbsolute(p) && !p.includes('\0'), 'must be an absolute path'),
  quotaBytes: z.number().int().nonnegative(),
  apiHost: nonEmpty.max(255),
  apiPort: z.number().int().min(0).max(65535),
  apiToken: nonEmpty.optional(),
  // several instances of one orchestrator: comma-separated, tried in turn
  orchestratorUrl: nonEmpty.refine(list => list.split(',').every(u => {
    return URL.canParse(u) && ['ws:', 'wss:', 'http:', 'https:'].includes(new URL(u).protocol)
  }), 'must be a ws://, wss://, http:// or https:// URL (or several, comma-separated)').optional(),
  orchestratorToken: nonEmpty.optional(),
  workspaces: z.array(z.string().refine(isValidWorkspaceId, 'is not a valid workspace id'))
    .refine(ids => new Set(ids).size === ids.length, 'must not list a workspace twice')
})

// The schema's output and the documented interface must stay the same shape
type SchemaOutput = z.output<typeof nodeConfigSchema>
const _sameShape: [SchemaOutput extends NodeConfig ? true : false, NodeConfig extends SchemaOutput ? true : false] = [true, true]
void _sameShape

function formatPath (path: PropertyKey[]): string {
  let out = ''
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`
  }
  return out
}

/**
 * Validates a config object.
 *
 * @param source - named in error messages (a file path, or 'config')
 * @throws {InvalidConfigError} naming the source and each bad field
 */
export function validateNodeConfig (value: unknown, source = 'node config'): NodeConfig {
  const result = nodeConfigSchema.safeParse(value)
  if (result.success) return result.data
  const problems = result.error.issues.map(issue => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length > 0 ? ` in "${formatPath(issue.path)}"` : ''
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(k => `"${k}"`).join(', ')}${where} (not allowed)`
    }
    const field = issue.path.length > 0 ? formatPath(issue.path) : '(root)'
    return `field "${field}": ${issue.message}`
  })
  throw new InvalidConfigError(`Invalid ${source}: ${problems.join('; ')}`, { cause: result.error })
}

/** Position of a JSON syntax error without quoting the file (it may hold tokens). */
function jsonErrorWhere (err: unknown, text: string): string {
  const m = /position (\d+)/.exec(String((err as Error)?.message ?? ''))
  if (m === null) {
    if (text.trim() === '') return ' (file is empty)'
    return /end of JSON/i.test(String((err as Error)?.message)) ? ' (file ends too early: truncated?)' : ''
  }
  const pos = Number(m[1])
  const before = text.slice(0, pos)
  const line = before.split('\n').length
  const column = pos - before.lastIndexOf('\n')
  return ` (at line ${line}, column ${column})`
}

/**
 * Reads and validates `node-config.json`.
 *
 * @returns the config, or `undefined` when the file does not exist
 * @throws {InvalidConfigError} when the file is not JSON or fails the schema
 * @example
 * ```ts
 * const config = await readNodeConfig(layout.configPath) ?? defaultNodeConfig({ storagePath })
 * ```
 */
export async function readNodeConfig (path: string, options: { signal?: AbortSignal } = {}): Promise<NodeConfig | undefined> {
  throwIfAborted(options.signal)
  let text: string
  try {
    text = await readFile(path, { encoding: 'utf8', signal: options.signal })
  } catch (err: any) {
    if (err?.code === 'ENOENT') return undefined
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch (err) {
    throw new InvalidConfigError(`Invalid node config file ${path}: not valid JSON${jsonErrorWhere(err, text)}`)
  }
  return validateNodeConfig(value, `node config file ${path}`)
}

/**
 * Validates `config` and writes it atomically: a temp file in the same
 * directory is written, fsynced and renamed over `path` (mode 0600), then the
 * directory is fsynced where the platform allows. Missing parent directories
 * are created. Readers see the old file or the new one, never a mix.
 *
 * @throws {InvalidConfigError} when `config` fails the schema (nothing is written)
 * @example
 * ```ts
 * await writeNodeConfig(layout.configPath, { ...config, workspaces: [...config.workspaces, 'team-alpha'] })
 * ```
 */
export async function writeNodeConfig (path: string, config: NodeConfig, options: { signal?: AbortSignal } = {}): Promise<void> {
  throwIfAborted(options.signal)
  const valid = validateNodeConfig(config, 'node config')
  const dir = dirname(path)
  await mkdir(dir, { recursive: true })
  // write-file-atomic: temp file beside `path`, fsync, rename; the temp file is removed on failure and on exit
  await writeFileAtomic(path, `${JSON.stringify(valid, null, 2)}\n`, { mode: 0o600, encoding: 'utf8' })
  await syncDirectory(dir)
}

/** Makes a rename in `dir` durable. Not possible on every platform (Windows): logged, not thrown. */
async function syncDirectory (dir: string): Promise<void> {
  try {
    const dirHandle = await open(dir, 'r')
    try { await dirHandle.sync() } finally { await dirHandle.close() }
  } catch (err) {
    log('could not fsync directory %s: %e', dir, err)
  }
}

/**
 * A complete config from a partial one: `nodeName` = `os.hostname()`,
 * `storagePath` = {@link defaultAppDataDir}, `quotaBytes` = 10 GiB,
 * `apiHost` = `127.0.0.1`, `apiPort` = 5080, `workspaces` = `[]`, no tokens,
 * no orchestrator.
 *
 * @throws {InvalidConfigError} when the result fails the schema
 * @example
 * ```ts
 * const config = defaultNodeConfig({ storagePath: '/mnt/data', quotaBytes: parseByteSize('50GB') })
 * ```
 */
export function defaultNodeConfig (partial: Partial<NodeConfig> = {}): NodeConfig {
  const name = hostname()
  return validateNodeConfig({
    version: NODE_CONFIG_VERSION,
    nodeName: name === '' ? 'otherthing-node' : name,
    storagePath: defaultAppDataDir(),
    quotaBytes: DEFAULT_QUOTA_BYTES,
    apiHost: DEFAULT_API_HOST,
    apiPort: DEFAULT_API_PORT,
    workspaces: [],
    ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined))
  }, 'node config')
}
