/**
 * The `otherthing-storage` command line.
 *
 * ```
 * otherthing-storage drives                      list drives (mount point, filesystem, size, free)
 * otherthing-storage keygen [--format hex|kubo]  print a new swarm key
 * otherthing-storage node [options]              run a storage node (HTTP API on 127.0.0.1)
 * otherthing-storage orchestrator [options]      run an orchestrator
 * otherthing-storage add [-r] <path>             upload a file or a folder to a running node
 * otherthing-storage get <cid[/path]> [dest]     download a file or a folder from a running node
 * otherthing-storage ls|pin|unpin|pins|stats|gc  content of a running node (see cli/content-commands.ts)
 * otherthing-storage car export|import           CAR files
 * otherthing-storage --version | --timeout <d>
 * otherthing-storage demo [--exit]               orchestrator + two nodes, end to end
 * ```
 *
 * `buildCli()` / `runCli(argv)` run it in-process (tests, embedding); when
 * this file is the process's entry point it runs `process.argv` and exits.
 * Exit codes: 0 ok, 1 a failure while running, 2 bad usage (flags, values).
 * Errors are one line on stderr: `error: <message>`.
 */
import '../polyfill.js'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError, Option } from 'commander'
import { StorageError } from '../errors.js'
import { formatBytes } from '../storage/bytes.js'
import { listDrives } from '../storage/drives.js'
import { formatSwarmKey, generateSwarmKey } from '../swarm-key/index.js'
import { createLogger } from './logger.js'
import type { LevelWithSilent } from 'pino'
import { registerContentCommands } from './cli/content-commands.js'
import { collect, collectUrls, LOG_LEVELS, parsePath, parsePort, parseQuota, parseUrl } from './cli/parsers.js'
import { packageVersion } from './cli/version.js'
import { isAbortError } from '../util/abort.js'

/** Streams and signal a CLI run uses; defaults are the process's own. */
export interface CliIo {
  /** @default process.stdout */
  stdout?: NodeJS.WritableStream
  /** @default process.stderr */
  stderr?: NodeJS.WritableStream
  /** @default process.env */
  env?: NodeJS.ProcessEnv
  /**
   * Ends long-running commands (`node`, `orchestrator`, `demo` without
   * `--exit`) gracefully. The CLI process aborts it on SIGINT/SIGTERM.
   */
  signal?: AbortSignal
}

/** Exit code of a bad flag or value. */
export const EXIT_USAGE = 2
/** Exit code of a failure while running. */
export const EXIT_FAILURE = 1

/** A failure the CLI reports as one line and exit code 2. */
class UsageError extends Error {}

// ---------------------------------------------------------------- helpers

function write (stream: NodeJS.WritableStream, text: string): void {
  stream.write(text)
}

/** A table with left-aligned text columns and right-aligned number columns. */
export function formatTable (headers: string[], rows: string[][], rightAligned: number[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells
    .map((c, i) => rightAligned.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))
    .join('  ')
    .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n') + '\n'
}

/** Resolves when `signal` aborts (never, without a signal). */
export function waitForAbort (signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return new Promise(() => {})
  if (signal.aborted) return Promise.resolve()
  return new Promise(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
}

// ---------------------------------------------------------------- the program

/**
 * Builds the commander program. Actions write to `io.stdout`/`io.stderr`;
 * errors propagate (use {@link runCli} for exit codes and one-line errors).
 */
export function buildCli (io: CliIo = {}): Command {
  const stdout = io.stdout ?? process.stdout
  const stderr = io.stderr ?? process.stderr
  const env = io.env ?? process.env

  const program = new Command('otherthing-storage')
    .description('Embedded IPFS storage for workspaces: private swarms, hard quotas.')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => { write(stdout, s) },
      writeErr: (s) => { write(stderr, s) },
      // one line: commander's message, without the help hint
      outputError: (s, w) => { w(s.split('\n')[0] + '\n') }
    })
    .exitOverride()
    .version(packageVersion(), '-V, --version', 'print the version')

  program.command('drives')
    .description('list the drives a storage path could be on')
    .option('--all', 'include pseudo file systems and system mounts')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean, json?: boolean }) => {
      const drives = await listDrives({ includeAll: opts.all === true, signal: io.signal })
      if (opts.json === true) {
        write(stdout, JSON.stringify(drives, null, 2) + '\n')
        return
      }
      write(stdout, formatTable(
        ['MOUNT POINT', 'FILESYSTEM', 'SIZE', 'FREE'],
        drives.map(d => [d.mountPoint, d.filesystem === '' ? '-' : d.filesystem, formatBytes(d.totalBytes), formatBytes(d.availableBytes)]),
        [2, 3]
      ))
    })

  program.command('keygen')
    .description('print a new random swarm key (keep it secret: anyone with it can join the swarm)')
    .addOption(new Option('-f, --format <format>', 'hex: 64 hex characters; kubo: a Kubo swarm.key file').choices(['hex', 'kubo']).default('hex'))
    .action((opts: { format: 'hex' | 'kubo' }) => {
      const hex = generateSwarmKey()
      write(stdout, (opts.format === 'kubo' ? formatSwarmKey(hex, 'base16') : hex) + '\n')
    })

  program.command('node')
    .description('run a storage node: joins workspaces, serves the HTTP API until Ctrl+C')
    .option('-s, --storage <path>', 'storage path (the node keeps its data in <path>/otherthing-storage; relative to the working directory)', parsePath)
    .option('--app-data <dir>', 'fallback storage path when --storage is unusable (default: the platform app-data folder)', parsePath)
    .option('-q, --quota <size>', 'storage quota, e.g. 50GB or 512MiB', parseQuota)
    .option('-o, --orchestrator <url>', 'orchestrator WebSocket URL (ws:// or wss://); repeat it for several instances on one PostgreSQL (tried in turn)', collectUrls(parseUrl(['ws:', 'wss:', 'http:', 'https:'])))
    .option('-t, --token <token>', 'node token for the orchestrator (or env OTHERTHING_NODE_TOKEN)')
    .option('--allow-insecure', 'allow plain ws:// to an orchestrator on another host (keys travel unencrypted)')
    .option('--api-host <host>', 'address the HTTP API listens on', '127.0.0.1')
    .option('-p, --api-port <port>', 'HTTP API port (0: any free port)', parsePort)
    .option('--no-api-auth', 'serve the HTTP API without a bearer token (only on a trusted machine)')
    .option('-w, --workspace <id>', 'standalone: join this workspace (needs a swarm key)')
    .option('--swarm-key-file <path>', 'standalone: swarm key file (Kubo swarm.key or 64 hex); or env OTHERTHING_SWARM_KEY')
    .option('--bootstrap <multiaddr>', 'standalone: a peer of the workspace to dial (repeatable)', collect)
    .option('--listen <multiaddr>', 'libp2p listen address (repeatable; default /ip4/127.0.0.1/tcp/0)', collect)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(env.LOG_LEVEL ?? 'info'))
    .action(async (opts: NodeCommandOptions) => { await runNodeCommand(opts, { stdout, stderr, env, signal: io.signal }) })

  program.command('orchestrator')
    .description('run an orchestrator (WebSocket for nodes, admin HTTP API) until Ctrl+C')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'port (0: any free port)', parsePort, 0)
    .option('--db <path>', 'SQLite database file (default: <app-data>/otherthing-orchestrator.db)')
    .option('--database <url>', 'PostgreSQL URL (postgres://user:password@host:5432/db; or env DATABASE_URL): several instances may share it')
    .option('--instance-id <id>', 'this instance\'s name among several on one PostgreSQL (default: hostname-pid-random)')
    .option('--admin-token <token>', 'admin API bearer token (or env OTHERTHING_ADMIN_TOKEN; generated when absent)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(env.LOG_LEVEL ?? 'info'))
    .action(async (opts: OrchestratorCommandOptions) => { await runOrchestratorCommand(opts, { stdout, stderr, env, signal: io.signal }) })

  // add, get, ls, pin, unpin, pins, stats, gc, car export|import and --timeout: cli/content-commands.ts
  registerContentCommands(program, { stdout, stderr, env, signal: io.signal })

  program.command('demo')
    .description('start an orchestrator and two nodes in temp folders, move a file between them')
    .option('--exit', 'finish after the checks instead of running until Ctrl+C')
    .option('--size <size>', 'size of the sample file', parseQuota, 3 * 1024 * 1024)
    .addOption(new Option('--log-level <level>', 'log level of the services (to stderr)').choices(LOG_LEVELS).default(env.LOG_LEVEL ?? 'silent'))
    .action(async (opts: { exit?: boolean, size: number, logLevel: string }) => {
      const { runDemo } = await import('./demo.js')
      await runDemo({
        exit: opts.exit === true,
        sampleSize: opts.size,
        stdout,
        logger: createLogger({ level: opts.logLevel as LevelWithSilent, destination: stderr }),
        signal: io.signal
      })
    })

  return program
}

export interface NodeCommandOptions {
  storage?: string
  appData?: string
  quota?: number
  orchestrator?: string
  token?: string
  allowInsecure?: boolean
  apiHost: string
  apiPort?: number
  apiAuth: boolean
  workspace?: string
  swarmKeyFile?: string
  bootstrap?: string[]
  listen?: string[]
  logLevel: string
}

export interface OrchestratorCommandOptions {
  host: string
  port: number
  db?: string
  database?: string
  instanceId?: string
  adminToken?: string
  logLevel: string
}

interface ResolvedIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
}

async function runNodeCommand (opts: NodeCommandOptions, io: ResolvedIo): Promise<void> {
  const { readFile } = await import('node:fs/promises')
  const { startNodeRunner } = await import('./node-runner.js')
  const { letNewSpaceGrow } = await import('./process-memory.js')
  let workspaces: Array<{ id: string, swarmKey: string | Uint8Array, bootstrapPeers?: string[] }> | undefined
  if (opts.workspace !== undefined) {
    let key: string | Uint8Array | undefined = io.env.OTHERTHING_SWARM_KEY
    if (opts.swarmKeyFile !== undefined) {
      try {
        key = await readFile(opts.swarmKeyFile)
      } catch (err: any) {
        throw new UsageError(`cannot read swarm key file ${opts.swarmKeyFile}: ${err?.code ?? err?.message}`)
      }
    }
    if (key === undefined || key === '') {
      throw new UsageError('--workspace needs a swarm key: --swarm-key-file <path> or env OTHERTHING_SWARM_KEY')
    }
    workspaces = [{ id: opts.workspace, swarmKey: key, bootstrapPeers: opts.bootstrap }]
  } else if (opts.swarmKeyFile !== undefined || (opts.bootstrap?.length ?? 0) > 0) {
    throw new UsageError('--swarm-key-file and --bootstrap need --workspace <id>')
  }
  const logger = createLogger({ level: opts.logLevel as LevelWithSilent, destination: io.stderr })
  const runner = await startNodeRunner({
    storagePath: opts.storage,
    appDataDir: opts.appData,
    quota: opts.quota,
    orchestratorUrl: opts.orchestrator,
    orchestratorToken: opts.token ?? io.env.OTHERTHING_NODE_TOKEN,
    apiHost: opts.apiHost,
    apiPort: opts.apiPort,
    apiAuth: opts.apiAuth,
    workspaces,
    listen: opts.listen,
    logger,
    signal: io.signal,
    ...(opts.allowInsecure === true ? { client: { allowInsecure: true } } : {})
  })
  // started: the small new space of start-up (bin/otherthing-storage.js) has done its job
  letNewSpaceGrow()
  write(io.stdout, `node API: ${runner.url} (bearer token in ${runner.configPath})\nstorage: ${runner.storageNode.root}\npress Ctrl+C to stop\n`)
  // runs until Ctrl+C, or until the orchestrator refuses the node's token (then exit 1: a supervisor sees it)
  const refused = await Promise.race([waitForAbort(io.signal).then(() => undefined), runner.refused])
  write(io.stdout, 'stopping...\n')
  await runner.stop()
  write(io.stdout, 'stopped\n')
  if (refused !== undefined) throw refused
}

async function runOrchestratorCommand (opts: OrchestratorCommandOptions, io: ResolvedIo): Promise<void> {
  const { startOrchestratorProcess } = await import('./orchestrator-process.js')
  const logger = createLogger({ level: opts.logLevel as LevelWithSilent, destination: io.stderr })
  const orch = await startOrchestratorProcess({
    host: opts.host,
    port: opts.port,
    dbPath: opts.db,
    database: opts.database,
    instanceId: opts.instanceId,
    env: io.env,
    adminToken: opts.adminToken ?? io.env.OTHERTHING_ADMIN_TOKEN,
    logger
  })
  write(io.stdout, `orchestrator (nodes): ${orch.url}\nadmin API: ${orch.adminUrl}\nadmin token: ${orch.adminTokenSource}\npress Ctrl+C to stop\n`)
  await waitForAbort(io.signal)
  write(io.stdout, 'stopping...\n')
  await orch.stop()
  write(io.stdout, 'stopped\n')
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and
 * resolves to the exit code; never rejects and never calls `process.exit`.
 *
 * @example
 * ```ts
 * const code = await runCli(['keygen', '--format', 'kubo'])
 * ```
 */
export async function runCli (argv: string[], io: CliIo = {}): Promise<number> {
  const stderr = io.stderr ?? process.stderr
  const program = buildCli(io)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (err: any) {
    if (err instanceof CommanderError) {
      // help and version are "errors" with exit code 0; commander already printed the message
      return err.exitCode === 0 ? 0 : EXIT_USAGE
    }
    if (err instanceof UsageError) {
      write(stderr, `error: ${err.message}\n`)
      return EXIT_USAGE
    }
    if (err instanceof StorageError && (err.code === 'ERR_INVALID_ARGUMENT' || err.code === 'ERR_INVALID_CID' ||
        err.code === 'ERR_INVALID_SWARM_KEY' || err.code === 'ERR_INVALID_WORKSPACE_ID' || err.code === 'ERR_INVALID_STORAGE_PATH' || err.code === 'ERR_DESTINATION')) {
      write(stderr, `error: ${oneLine(err.message)}\n`)
      return EXIT_USAGE
    }
    if (io.signal?.aborted === true && isAbortError(err)) {
      write(stderr, 'error: interrupted\n')
      return 130
    }
    const code = typeof err?.code === 'string' ? ` (${err.code as string})` : ''
    write(stderr, `error: ${oneLine(String(err?.message ?? err))}${code}\n`)
    if (process.env.DEBUG_CLI !== undefined) write(stderr, String(err?.stack) + '\n')
    return EXIT_FAILURE
  }
}

function oneLine (s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim()
}

/**
 * Entry point of the CLI process: runs `process.argv`, turns the first
 * SIGINT/SIGTERM into a graceful stop (a second one exits at once with 130)
 * and sets the exit code.
 */
export async function main (argv: string[] = process.argv.slice(2)): Promise<void> {
  const controller = new AbortController()
  let signals = 0
  const onSignal = (): void => {
    signals++
    if (signals > 1) process.exit(130)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const code = await runCli(argv, { signal: controller.signal })
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  process.exitCode = code
  // Everything was stopped; a stray libp2p timer must not keep the process up.
  setTimeout(() => { process.exit(code) }, 3000).unref()
}

function isEntryPoint (): boolean {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))
  } catch (err) {
    // argv[1] is not a file we can resolve (a REPL, `node -e`): this module was imported, not run
    if (process.env.DEBUG_CLI !== undefined) process.stderr.write(`cli: not the entry point: ${String(err)}\n`)
    return false
  }
}

if (isEntryPoint()) {
  void main()
}
