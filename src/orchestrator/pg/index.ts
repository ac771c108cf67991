/**
 * @packageDocumentation
 *
 * Groundwork for several orchestrator instances on one PostgreSQL (issue #14;
 * design in docs/orchestrator-postgres.md): the store on PostgreSQL behind
 * the asynchronous store interface, the leader lease for placement, and the
 * cross-instance bus. The interface and the SQLite adapter live in
 * `../store/` (`async-store.ts`, `sqlite-adapter.ts`); they are re-exported
 * here for code that imported them from this module.
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
export type { AsyncOrchestratorStore, AsyncStoreOperations, AsyncStoreTransaction } from '../store/async-store.js'
export { createPostgresStore, describeConnection } from './postgres-store.js'
export type { PostgresStoreInit } from './postgres-store.js'
export { PG_SCHEMA_VERSION } from './postgres-migrations.js'
export { asyncSqliteStore } from '../store/sqlite-adapter.js'
export type { SyncSqliteStore } from '../store/sqlite-adapter.js'
export { createLeaderLease } from './postgres-lease.js'
export type { LeaderLease, LeaderLeaseInit } from './postgres-lease.js'
export { createClusterBus, MAX_NOTIFY_BYTES } from './postgres-bus.js'
export type { ClusterBus, ClusterBusInit, NodeMessageDetail, BroadcastDetail } from './postgres-bus.js'
