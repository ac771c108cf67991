/**
 * "Placement and re-pinning run on exactly one orchestrator instance at a
 * time": a PostgreSQL session-level advisory lock held on a dedicated
 * connection. The instance whose connection holds the lock is the leader;
 * the others try to take it (`pg_try_advisory_lock()`) on their own
 * connection every `heartbeatMs`, so one of them has it at most that long
 * after the leader's session ends.
 *
 * Why not wait in the server (`pg_advisory_lock()`)? A statement that waits
 * holds its snapshot for as long as it waits, and with it the database's
 * xmin horizon: while a follower waited (that is, for the leader's whole
 * life) no vacuum could remove any row deleted or updated since, and every
 * index scan of a busy table (the bus's `cluster_messages`, `pin_allocations`)
 * walked all the dead versions. A follower's session is idle between tries.
 *
 * When does a leader's session end? At once when its process dies (kill -9:
 * the kernel closes the socket), when it is terminated
 * (`pg_terminate_backend`), or when TCP keepalives (set here on both sides)
 * give up on a machine that vanished. The leader pings its connection every
 * `heartbeatMs` and steps down ('lost') when a ping fails.
 *
 * A lease is about doing the work once, not about correctness: for the short
 * time an old leader has not noticed its loss, two placers may run. The pin
 * row locks in the store make that harmless (no double placement).
 */
import pg from 'pg'
import { InvalidArgumentError } from '../../errors.js'
import { checkConnectionString, describeConnection } from './postgres-store.js'
import { throwIfAborted, toStorageError } from '../../util/abort.js'
import type { OrchestratorLogger } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'

export interface LeaderLeaseInit {
  connectionString: string
  /** This instance, shown to the others by {@link LeaderLease.holder} (up to 50 characters). */
  instanceId: string
  /**
   * What is led: instances using the same name compete for the same lease.
   * @default 'placement'
   */
  name?: string
  /**
   * How often the leader checks its connection, a follower tries to take the lease, and the pause before a
   * reconnect after an error.
   * @default 1000
   */
  heartbeatMs?: number
  /** @default silent */
  logger?: OrchestratorLogger
}

export interface LeaderLease extends EventTarget {
  readonly instanceId: string
  /** Whether this instance holds the lease now. */
  readonly isLeader: boolean
  /** Starts competing (returns at once; listen for 'acquired'). */
  start(): void
  /** Gives the lease up (if held) and stops competing. */
  stop(): Promise<void>
  /** Resolves when this instance holds the lease. */
  waitUntilLeader(options?: AbortOptions): Promise<void>
  /** The instance id of the current holder, as the database sees it. */
  holder(options?: AbortOptions): Promise<string | undefined>
}

/** Advisory-lock namespace (first int4 key) of every lease; the second is a hash of its name. */
const LEASE_NAMESPACE = 0x07e2
const APP_PREFIX = 'otherthing:'

/** FNV-1a 32-bit of `name`, as the signed int4 PostgreSQL's two-key advisory lock functions take. */
export function leaseKey (name: string): number {
  let h = 0x811c9dc5
  for (const byte of Buffer.from(name, 'utf8')) {
    h ^= byte
    h = Math.imul(h, 0x01000193)
  }
  return h | 0
}

const silent: OrchestratorLogger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * @example
 * ```ts
 * const lease = createLeaderLease({ connectionString: process.env.DATABASE_URL, instanceId: 'orch-a' })
 * lease.addEventListener('acquired', () => { startPlacementLoop() })
 * lease.addEventListener('lost', () => { stopPlacementLoop() })
 * lease.start()
 * ```
 */
export function createLeaderLease (init: LeaderLeaseInit): LeaderLease {
  checkConnectionString(init.connectionString)
  if (init.instanceId.length === 0 || init.instanceId.length > 50) throw new InvalidArgumentError('instanceId must be 1 to 50 characters')
  return new AdvisoryLease(init)
}

class AdvisoryLease extends EventTarget implements LeaderLease {
  readonly instanceId: string
  readonly #init: LeaderLeaseInit
  readonly #key: number
  readonly #heartbeatMs: number
  readonly #log: OrchestratorLogger
  #client: pg.Client | undefined
  #running = false
  #leader = false
  #loop: Promise<void> | undefined
  #wake: (() => void) | undefined

  constructor (init: LeaderLeaseInit) {
    super()
    this.#init = init
    this.instanceId = init.instanceId
    this.#key = leaseKey(init.name ?? 'placement')
    this.#heartbeatMs = init.heartbeatMs ?? 1000
    this.#log = init.logger ?? silent
  }

  get isLeader (): boolean { return this.#leader }

  start (): void {
    if (this.#running) return
    this.#running = true
    this.#loop = this.#run()
  }

  async stop (): Promise<void> {
    if (!this.#running) return
    this.#running = false
    // ending the session releases the lock (or abandons the wait for it) on the server
    const client = this.#client
    this.#client = undefined
    this.#wake?.()
    await client?.end().catch((err: Error) => { this.#log.debug({ err: err.message }, 'lease connection already closed') })
    await this.#loop
    this.#setLeader(false)
  }

  async waitUntilLeader (options?: AbortOptions): Promise<void> {
    throwIfAborted(options?.signal)
    if (this.#leader) return
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.removeEventListener('acquired', onAcquired)
        reject(toStorageError(options?.signal?.reason))
      }
      const onAcquired = (): void => {
        options?.signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      this.addEventListener('acquired', onAcquired, { once: true })
      options?.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  async holder (options?: AbortOptions): Promise<string | undefined> {
    throwIfAborted(options?.signal)
    const client = new pg.Client({ connectionString: this.#init.connectionString })
    await client.connect()
    try {
      const res = await client.query<{ application_name: string }>(`SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2`, [LEASE_NAMESPACE, this.#key >>> 0])
      const name = res.rows[0]?.application_name
      return name?.startsWith(APP_PREFIX) === true ? name.slice(APP_PREFIX.length) : undefined
    } finally {
      await client.end()
    }
  }

  #setLeader (leader: boolean): void {
    if (this.#leader === leader) return
    this.#leader = leader
    this.#log.info({ instanceId: this.instanceId, leader }, leader ? 'lease acquired' : 'lease lost')
    this.dispatchEvent(new Event(leader ? 'acquired' : 'lost'))
  }

  /** Sleeps `ms`, or less when stop() wakes it. */
  async #pause (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, ms)
      this.#wake = () => { clearTimeout(timer); resolve() }
    })
    this.#wake = undefined
  }

  /** One try at the lock: `true` when this session holds it now. (A per-query timeout: pg reads config.query_timeout; @types/pg lacks it.) */
  async #tryLock (client: pg.Client): Promise<boolean> {
    const res = await client.query<{ ok: boolean }>({
      text: 'SELECT pg_try_advisory_lock($1, $2) AS ok',
      values: [LEASE_NAMESPACE, this.#key],
      query_timeout: Math.max(1000, this.#heartbeatMs * 3)
    } as pg.QueryConfig)
    return res.rows[0]?.ok === true
  }

  async #run (): Promise<void> {
    while (this.#running) {
      const client = new pg.Client({
        connectionString: this.#init.connectionString,
        application_name: APP_PREFIX + this.instanceId,
        keepAlive: true,
        keepAliveInitialDelayMillis: this.#heartbeatMs,
        // the server gives up on a vanished leader after about idle + interval * count seconds
        options: '-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 -c statement_timeout=0 -c lock_timeout=0'
      })
      let lost: Error | undefined
      client.on('error', (err) => { lost = err })
      this.#client = client
      try {
        await client.connect()
        if (!this.#running) break
        // a try every heartbeat, the session idle in between (a wait in the server would hold back vacuum: see the header)
        let held = false
        while (this.#running && lost == null && !(held = await this.#tryLock(client))) await this.#pause(this.#heartbeatMs)
        if (held) this.#setLeader(true)
        while (held && this.#running && lost == null) {
          await this.#pause(this.#heartbeatMs)
          if (!this.#running) break
          await client.query({ text: 'SELECT 1', query_timeout: Math.max(1000, this.#heartbeatMs * 3) } as pg.QueryConfig)
        }
      } catch (err) {
        if (this.#running) {
          this.#log.warn({ instanceId: this.instanceId, err: (lost ?? err as Error).message, server: describeConnection(this.#init.connectionString) }, 'lease connection failed')
        }
      } finally {
        this.#setLeader(false)
        if (this.#client === client) this.#client = undefined
        await client.end().catch((err: Error) => { this.#log.debug({ err: err.message }, 'lease connection already closed') })
      }
      if (this.#running) await this.#pause(this.#heartbeatMs)
    }
  }
}
