/**
 * @packageDocumentation
 *
 * The hard quota: a Blockstore wrapper that counts every byte against one ledger shared by
 * all the workspaces of a node, and refuses writes above the quota or below the drive's
 * free-space reserve.
 *
 * @example
 * ```ts
 * import { FsBlockstore } from 'blockstore-fs'
 * import { createQuotaBlockstore, createQuotaLedger } from 'otherthing-storage/blockstore'
 *
 * const ledger = createQuotaLedger({ limitBytes: 10 * 1024 ** 3, statePath: '/data/ipfs/quota-ledger.json' })
 * const directory = '/data/ipfs/ws-1/blocks'
 * const blockstore = createQuotaBlockstore({ child: new FsBlockstore(directory), ledger, name: 'ws-1', directory })
 * await blockstore.open()
 * // ... pass `blockstore` to Helia; puts above the quota throw QuotaExceededError (ERR_QUOTA_EXCEEDED)
 * await blockstore.close()
 * await ledger.close()
 * ```
 */
// Entry point of `otherthing-storage/blockstore`: Helia 7 / libp2p 3 need Promise.withResolvers (Node 22+).
import '../polyfill.js'

export { createQuotaLedger } from './ledger.js'
export type { QuotaLedger, QuotaLedgerInit, QuotaUsage } from './ledger.js'
export { createQuotaBlockstore } from './quota-blockstore.js'
export type { FreshTarget, FreshWriteResult, QuotaBlockstore, QuotaBlockstoreInit, QuotaPutOptions } from './types.js'
export { mhKey } from './mh-key.js'
export type { BlockLayout } from './block-layout.js'
export { defaultReserveBytes } from './disk-space.js'
export type { StatFsFn, StatFsResult } from './disk-space.js'
export { scanFsBlockstore, scanBlockstore } from './scan.js'
export type { ScanResult, ScanFsOptions } from './scan.js'
