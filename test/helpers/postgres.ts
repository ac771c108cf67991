/**
 * A throw-away PostgreSQL server for one test file: Debian's PostgreSQL 15
 * binaries, `initdb -A trust` on a temp folder owned by the `postgres` user
 * (initdb refuses root), a free loopback port, the socket in the same folder,
 * and durability off (fsync, synchronous_commit, full_page_writes) because
 * nothing here must survive the run.
 *
 * @example
 * ```ts
 * const pg = usePostgres()          // registers beforeAll / afterAll
 * describe.skipIf(pg.skip != null)('my store', () => {
 *   it('works', async () => { const url = await pg.createDatabase() })
 * })
 * ```
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

const run = promisify(execFile)

/** Where Debian's postgresql-15 package puts initdb and pg_ctl; `PG_BIN` overrides it. */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin'

export interface PostgresServer {
  readonly port: number
  readonly dir: string
  /** The URL of `database` on this server (as the `postgres` superuser). */
  url: (database?: string) => string
  /** Creates a fresh database and returns its URL. */
  createDatabase: (name?: string) => Promise<string>
  stop: () => Promise<void>
}

/**
 * Why PostgreSQL cannot be started here, or `undefined` when it can be tried.
 * Only missing prerequisites count: a server that fails to start when they
 * are present is a test failure, not a skip.
 */
export function postgresUnavailable (): string | undefined {
  for (const bin of ['initdb', 'pg_ctl', 'postgres']) {
    if (!existsSync(join(PG_BIN, bin))) return `PostgreSQL tests skipped: ${join(PG_BIN, bin)} not found (apt-get install -y postgresql, or set PG_BIN)`
  }
  if (process.getuid?.() === 0) {
    if (postgresUid() == null) return 'PostgreSQL tests skipped: running as root and there is no `postgres` user to run initdb as'
    if (!existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'PostgreSQL tests skipped: running as root without runuser'
  }
  return undefined
}

function postgresUid (): { uid: number, gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    return { uid, gid }
  } catch {
    return undefined
  }
}

/** The command line that runs a PostgreSQL binary as a user it accepts. */
function asPostgres (bin: string, args: string[]): [string, string[]] {
  if (process.getuid?.() === 0) return ['runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]]
  return [join(PG_BIN, bin), args]
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address != null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

/** Starts a server; throws (with the server log) when it does not come up. */
export interface PostgresInit {
  /** Load pg_stat_statements (every statement, nested ones too), for `CREATE EXTENSION pg_stat_statements`. */
  statementStats?: boolean
}

export async function startPostgres (init: PostgresInit = {}): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'otherthing-pg-'))
  const data = join(dir, 'data')
  const owner = process.getuid?.() === 0 ? postgresUid() : undefined
  if (owner != null) await chown(dir, owner.uid, owner.gid)
  const port = await freePort()
  let started = false
  const stopSync = (): void => {
    if (!started) return
    started = false
    const [cmd, args] = asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
    spawnSync(cmd, args, { stdio: 'ignore' })
  }
  // a worker that dies without afterAll must not leave a postmaster behind
  process.once('exit', stopSync)
  try {
    await run(...asPostgres('initdb', ['-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions', '-D', data]))
    const options = [
      `-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1',
      '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off',
      '-c shared_buffers=16MB', '-c max_connections=60', '-c max_wal_size=64MB',
      '-c autovacuum=off', '-c log_min_messages=warning',
      ...(init.statementStats === true ? ['-c shared_preload_libraries=pg_stat_statements', '-c pg_stat_statements.track=all'] : [])
    ].join(' ')
    await run(...asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', options, 'start']))
    started = true
  } catch (err) {
    const log = spawnSync('cat', [join(dir, 'server.log')], { encoding: 'utf8' }).stdout ?? ''
    await rm(dir, { recursive: true, force: true })
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`)
  }

  const url = (database = 'postgres'): string => `postgres://postgres@127.0.0.1:${port}/${database}`
  let n = 0
  return {
    port,
    dir,
    url,
    async createDatabase (name) {
      const db = name ?? `test_${process.pid}_${++n}`
      if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`bad database name ${db}`)
      const client = new pg.Client({ connectionString: url() })
      await client.connect()
      try {
        await client.query(`CREATE DATABASE ${db}`)
      } finally {
        await client.end()
      }
      return url(db)
    },
    async stop () {
      process.removeListener('exit', stopSync)
      if (started) {
        started = false
        await run(...asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']))
      }
      await rm(dir, { recursive: true, force: true })
    }
  }
}

export interface UsePostgres {
  /** Why the tests are skipped, or `undefined` when the server runs. */
  readonly skip: string | undefined
  /** The server, set in `beforeAll`. */
  readonly server: PostgresServer
  /** A fresh database on the file's server. */
  createDatabase: () => Promise<string>
}

/**
 * Starts one server for the calling test file (in `beforeAll`, stopped in
 * `afterAll`), or reports why it cannot: use `describe.skipIf(pg.skip != null)`.
 */
export function usePostgres (): UsePostgres {
  const skip = postgresUnavailable()
  let server: PostgresServer | undefined
  if (skip != null) {
    console.warn(skip)
  } else {
    beforeAll(async () => { server = await startPostgres() }, 60_000)
    afterAll(async () => { await server?.stop() })
  }
  return {
    skip,
    get server () {
      if (server == null) throw new Error('PostgreSQL server not started (use it inside tests)')
      return server
    },
    async createDatabase () {
      if (server == null) throw new Error('PostgreSQL server not started (use it inside tests)')
      return await server.createDatabase()
    }
  }
}

/** Runs one statement on its own connection (as the superuser the URL names) and returns its rows. */
export async function sql<R extends pg.QueryResultRow = any>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}
