/**
 * The hard quota: a Blockstore wrapper that counts every byte against one ledger shared by
 * all the workspaces of a node, and refuses writes above the quota or below the drive's
 * free-space reserve.
 */
export { createQuotaLedger } from './ledger.js'
export type { QuotaLedger, QuotaLedgerInit, QuotaUsage } from './ledger.js'
export { createQuotaBlockstore } from './quota-blockstore.js'
export type { QuotaBlockstore, QuotaBlockstoreInit } from './quota-blockstore.js'
export { defaultReserveBytes } from './disk-space.js'
export type { StatFsFn, StatFsResult } from './disk-space.js'
export { scanFsBlockstore, scanBlockstore } from './scan.js'
export type { ScanResult, ScanFsOptions } from './scan.js'
