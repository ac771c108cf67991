/**
 * @packageDocumentation
 *
 * Groundwork for several orchestrator instances on one PostgreSQL (issue #14;
 * design in docs/orchestrator-postgres.md): the store on PostgreSQL behind
 * the asynchronous store interface (and the SQLite store behind the same
 * interface), the leader lease for placement, and the cross-instance bus.
 * `createOrchestrator({ database: 'postgres://…' })` uses them (`../cluster/postgres-link.ts`).
 *
 * @example
 * ```ts
 * import { createPostgresStore, createLeaderLease, createClusterBus } from './orchestrator/pg/index.js'
 *
 * const url = process.env.DATABASE_URL
 * const store = await createPostgresStore({ connectionString: url })
 * const bus = createClusterBus({ connectionString: url, instanceId: 'orch-a' })
 * const lease = createLeaderLease({ connectionString: url, instanceId: 'orch-a' })
 * await bus.start()
 * lease.addEventListener('acquired', () => { console.log('this instance places pins now') })
 * lease.start()
 * ```
 */
export type { AsyncOrchestratorStore, AsyncStoreOperations, AsyncStoreTransaction } from './async-store.js'
export { createPostgresStore, describeConnection } from './postgres-store.js'
export type { PostgresStoreInit } from './postgres-store.js'
export { PG_SCHEMA_VERSION } from './postgres-migrations.js'
export { asyncSqliteStore } from './sqlite-adapter.js'
export type { SyncSqliteStore } from './sqlite-adapter.js'
export { createLeaderLease } from './postgres-lease.js'
export type { LeaderLease, LeaderLeaseInit } from './postgres-lease.js'
export { createClusterBus, MAX_NOTIFY_BYTES } from './postgres-bus.js'
export type { ClusterBus, ClusterBusInit, NodeMessageDetail, BroadcastDetail } from './postgres-bus.js'
