/**
 * The CLI's side of several orchestrator instances (issue #14), in process
 * through runCli: `orchestrator --database <postgres url>` and env
 * `DATABASE_URL` keep the state in that PostgreSQL database (its schema is
 * there afterwards, the password never in the log), and a `node` given
 * `--orchestrator` twice moves on to the second URL when the first refuses
 * the connection.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrchestrator } from '../src/orchestrator/index.js'
import { runCli } from '../src/runner/cli.js'
import { sql, usePostgres } from './helpers/postgres.js'

interface Running {
  /** All of stdout and stderr so far. */
  stdout: () => string
  stderr: () => string
  /** Resolves once stdout shows `text`. */
  printed: (text: string) => Promise<void>
  /** Ctrl+C, then the exit code. */
  stop: () => Promise<number>
}

/** Runs `args` through runCli until stopped, as the `node` and `orchestrator` commands run until Ctrl+C. */
function start (args: string[], env: NodeJS.ProcessEnv): Running {
  const out = new PassThrough()
  const err = new PassThrough()
  let stdout = ''
  let stderr = ''
  const waiting: Array<{ text: string, resolve: () => void }> = []
  out.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
    for (const w of waiting.filter(w => stdout.includes(w.text))) w.resolve()
  })
  err.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const controller = new AbortController()
  const exited = runCli(args, { stdout: out, stderr: err, env, signal: controller.signal })
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    printed: async (text) => {
      if (stdout.includes(text)) return
      await Promise.race([
        new Promise<void>(resolve => { waiting.push({ text, resolve }) }),
        exited.then(code => { throw new Error(`exited ${code} before printing ${JSON.stringify(text)}: ${stderr}`) })
      ])
    },
    stop: async () => {
      controller.abort()
      return await exited
    }
  }
}

const pg = usePostgres()

describe.skipIf(pg.skip != null)('cli orchestrator on PostgreSQL', () => {
  /** The URL with a password in it (the throw-away server trusts loopback, so any password works). */
  const withPassword = (url: string): string => url.replace('postgres://postgres@', 'postgres://postgres:s3cret-pw@')

  for (const how of ['--database', 'env DATABASE_URL'] as const) {
    it(`${how}: the state goes to that database, the log names it without the password`, async () => {
      const url = withPassword(await pg.createDatabase())
      const args = ['orchestrator', '--port', '0', '--instance-id', 'cli-a', '--log-level', 'info']
      const env = { OTHERTHING_ADMIN_TOKEN: 'cli-orchestrator-admin-token' }
      const run = how === '--database'
        ? start([...args, '--database', url], env)
        : start(args, { ...env, DATABASE_URL: url })
      await run.printed('press Ctrl+C')
      const adminUrl = /admin API: (\S+)/.exec(run.stdout())?.[1] as string
      const created = await fetch(`${adminUrl}/workspaces`, {
        method: 'POST',
        headers: { authorization: 'Bearer cli-orchestrator-admin-token', 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'cli-team', name: 'Team' })
      })
      expect(created.status).toBe(201)
      expect(await run.stop()).toBe(0)
      // written to PostgreSQL: the schema and the workspace are rows of that database
      expect((await sql(url, 'SELECT component FROM otherthing_schema')).length).toBeGreaterThan(0)
      expect(await sql(url, 'SELECT id FROM workspaces')).toEqual([{ id: 'cli-team' }])
      const port = new URL(url).port
      expect(run.stderr()).toContain(`"database":"postgres://127.0.0.1:${port}/`)
      expect(run.stderr()).not.toContain('s3cret-pw')
    })
  }
})

describe('cli node with two --orchestrator URLs', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'cli-orch-list-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('moves on to the second URL when the first one refuses the connection', async () => {
    const orch = createOrchestrator({ databasePath: join(dir, 'o.db'), port: 0 })
    const { url } = await orch.start()
    // a port that was just free: nothing listens there
    const dead = createOrchestrator({ databasePath: ':memory:', port: 0 })
    const { url: deadUrl } = await dead.start()
    await dead.stop()
    const { node, token } = await orch.createNode({ name: 'laptop' })
    const run = start([
      'node', '--storage', join(dir, 's'), '--app-data', join(dir, 'app'), '--api-port', '0',
      '--orchestrator', deadUrl, '--orchestrator', url, '--token', token, '--log-level', 'silent'
    ], {})
    try {
      await run.printed('press Ctrl+C')
      await expect.poll(async () => (await orch.getNode(node.id)).online, { timeout: 20_000 }).toBe(true)
    } finally {
      expect(await run.stop()).toBe(0)
      await orch.stop()
    }
  })
})
