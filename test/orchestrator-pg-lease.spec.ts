/**
 * The placement lease on a real PostgreSQL: one holder at a time, and a
 * waiting instance takes over within seconds when the holder's session ends,
 * whether it is terminated by the server or its process is killed -9; a
 * waiting instance does not hold back vacuum.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { createLeaderLease, leaseKey } from '../src/orchestrator/pg/postgres-lease.js'
import { sql, usePostgres } from './helpers/postgres.js'
import type { LeaderLease } from '../src/orchestrator/pg/postgres-lease.js'

const postgres = usePostgres()
/** How long a takeover may take (the server notices a dead session at once; this only bounds a hang). */
const TAKEOVER = 10_000

describe.skipIf(postgres.skip != null)('postgres leader lease', () => {
  const leases: LeaderLease[] = []
  afterEach(async () => { await Promise.all(leases.splice(0).map(async l => { await l.stop() })) })

  function lease (url: string, instanceId: string, name?: string): LeaderLease {
    const l = createLeaderLease({ connectionString: url, instanceId, heartbeatMs: 200, ...(name != null ? { name } : {}) })
    leases.push(l)
    l.start()
    return l
  }

  /** Resolves once `instanceId`'s connection tried the lease and did not get it (it is a follower, not just slow to connect). */
  async function waitingOnLock (url: string, instanceId: string): Promise<void> {
    const deadline = performance.now() + TAKEOVER
    // the server shows the session's last statement: a try, and no lock of this session granted
    while ((await sql(url, `SELECT 1 FROM pg_stat_activity a WHERE a.application_name = $1 AND a.query LIKE '%pg_try_advisory_lock%'
      AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)`, [`otherthing:${instanceId}`])).length === 0) {
      if (performance.now() > deadline) throw new Error(`${instanceId} never waited on the lease`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }

  /** `a` leading, `b` waiting behind it, on a fresh database. */
  async function leaderAndFollower (): Promise<{ url: string, a: LeaderLease, b: LeaderLease }> {
    const url = await postgres.createDatabase()
    const a = lease(url, 'a')
    await a.waitUntilLeader({ signal: AbortSignal.timeout(TAKEOVER) })
    const b = lease(url, 'b')
    await waitingOnLock(url, 'b')
    return { url, a, b }
  }

  it('gives the lease to one instance; another takes over when its session is terminated', async () => {
    const url = await postgres.createDatabase()
    const a = lease(url, 'a')
    await a.waitUntilLeader({ signal: AbortSignal.timeout(TAKEOVER) })
    const b = lease(url, 'b')
    await waitingOnLock(url, 'b')
    expect(a.isLeader).toBe(true)
    expect(b.isLeader).toBe(false)
    expect(await b.holder()).toBe('a')

    const lost = once(a, 'lost')
    const [killed] = await sql(url, "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'otherthing:a'")
    expect(killed.ok).toBe(true)
    await b.waitUntilLeader({ signal: AbortSignal.timeout(TAKEOVER) })
    await lost
    expect(await a.holder()).toBe('b')

    // a reconnects as a follower, and leads again when b steps down
    await waitingOnLock(url, 'a')
    expect(a.isLeader).toBe(false)
    await b.stop()
    await a.waitUntilLeader({ signal: AbortSignal.timeout(TAKEOVER) })
    expect(await a.holder()).toBe('a')
  })

  it('takes over from an instance whose process is killed -9', async () => {
    const url = await postgres.createDatabase()
    const script = `
      import { createLeaderLease } from './src/orchestrator/pg/postgres-lease.ts'
      const lease = createLeaderLease({ connectionString: process.env.LEASE_URL, instanceId: 'child' })
      lease.addEventListener('acquired', () => { console.log('leader') })
      lease.start()`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(), env: { ...process.env, LEASE_URL: url }, stdio: ['ignore', 'pipe', 'inherit']
    })
    try {
      const lines = createInterface({ input: child.stdout })
      await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => { throw new Error('child exited before leading') })])
      const b = lease(url, 'b')
      await waitingOnLock(url, 'b')
      expect(await b.holder()).toBe('child')

      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
      await b.waitUntilLeader({ signal: AbortSignal.timeout(TAKEOVER) })
      expect(await b.holder()).toBe('b')
    } finally {
      if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL')
    }
  })

  it('keeps leases of different names apart, and one name is one lease across many instances', async () => {
    const url = await postgres.createDatabase()
    const placement = [lease(url, 'p1'), lease(url, 'p2'), lease(url, 'p3')]
    const other = lease(url, 'o1', 'gc')
    await other.waitUntilLeader({ signal: AbortSignal.timeout(TAKEOVER) })
    await Promise.race(placement.map(async l => { await l.waitUntilLeader({ signal: AbortSignal.timeout(TAKEOVER) }) }))
    const leader = placement.find(l => l.isLeader)!
    const followers = placement.filter(l => l !== leader)
    await Promise.all(followers.map(async f => { await waitingOnLock(url, f.instanceId) }))
    expect(placement.filter(l => l.isLeader)).toHaveLength(1)
    expect(leaseKey('placement')).not.toBe(leaseKey('gc'))

    // the leader stops: exactly one of the two others follows it
    await leader.stop()
    await Promise.race(followers.map(async l => { await l.waitUntilLeader({ signal: AbortSignal.timeout(TAKEOVER) }) }))
    const next = followers.find(l => l.isLeader)!
    await waitingOnLock(url, followers.find(l => l !== next)!.instanceId)
    expect(followers.filter(l => l.isLeader)).toHaveLength(1)
    expect(await next.holder()).toBe(next.instanceId)
  })

  it('holds back no vacuum while it waits: rows deleted meanwhile are removable', async () => {
    const { url, b } = await leaderAndFollower()
    // a wait in the server (pg_advisory_lock) held its snapshot, and so the xmin horizon, as long as it waited
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await client.query('CREATE TABLE churn (id int PRIMARY KEY, v int)')
      await client.query('INSERT INTO churn SELECT g, 0 FROM generate_series(1, 200) g')
      await client.query('UPDATE churn SET v = v + 1')
      await waitingOnLock(url, 'b') // b tried again since (heartbeatMs 200) and still waits
      const notices: string[] = []
      client.on('notice', (n) => { notices.push(n.message ?? '') })
      await client.query('VACUUM (VERBOSE) churn')
      const line = notices.find(m => /dead but not yet removable/.test(m))
      expect(line, notices.join('\n')).toBeDefined()
      expect(Number(/(\d+) are dead but not yet removable/.exec(line ?? '')?.[1])).toBe(0)
      expect(b.isLeader).toBe(false)
    } finally {
      await client.end()
    }
  })

  it('stops waiting when stopped, and rejects a wait whose signal aborts', async () => {
    const { url, a, b } = await leaderAndFollower()
    const controller = new AbortController()
    const waiting = b.waitUntilLeader({ signal: controller.signal })
    controller.abort()
    await expect(waiting).rejects.toMatchObject({ name: 'AbortedError', code: 'ERR_ABORTED' })
    await b.stop()
    const deadline = performance.now() + TAKEOVER
    while ((await sql(url, "SELECT 1 FROM pg_stat_activity WHERE application_name = 'otherthing:b'")).length > 0) {
      if (performance.now() > deadline) throw new Error('b\'s session outlived stop()')
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    expect(a.isLeader).toBe(true)
    expect(b.isLeader).toBe(false)
    expect(() => createLeaderLease({ connectionString: url, instanceId: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }))
  })
})
