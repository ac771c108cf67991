/**
 * A QuotaBlockstore over an FsBlockstore in a fresh temp folder, for the specs that
 * test the wrapper's write paths (quota-fast-path, quota-fresh-write): one set-up and
 * one tear-down instead of a copy in each.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { createQuotaBlockstore, createQuotaLedger } from '../../src/blockstore/index.js'
import type { QuotaBlockstore, QuotaBlockstoreInit, QuotaLedger } from '../../src/blockstore/index.js'

export interface TempQuotaStore {
  /** The temp folder (the ledger's state is `<dir>/ledger.json`). */
  dir: string
  /** The blocks folder, `<dir>/blocks`. */
  directory: string
  ledger: QuotaLedger
  /** Opened. */
  store: QuotaBlockstore
}

/** A store named `ws` over `directory` (not opened yet): what a workspace node builds. */
export function fsQuotaStore (directory: string, ledger: QuotaLedger, init: Partial<QuotaBlockstoreInit> = {}): QuotaBlockstore {
  return createQuotaBlockstore({ child: new FsBlockstore(directory), ledger, name: 'ws', directory, ...init })
}

/** A fresh temp folder with a ledger of `limitBytes` (no disk reserve) and an opened store in it. */
export async function openTempQuotaStore (prefix: string, limitBytes: number): Promise<TempQuotaStore> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  const directory = path.join(dir, 'blocks')
  const ledger = createQuotaLedger({ limitBytes, statePath: path.join(dir, 'ledger.json'), reserveBytes: 0 })
  const store = fsQuotaStore(directory, ledger)
  await store.open()
  return { dir, directory, ledger, store }
}

/** Closes the store and the ledger, removes the folder. */
export async function closeTempQuotaStore ({ dir, ledger, store }: Pick<TempQuotaStore, 'dir' | 'ledger' | 'store'>): Promise<void> {
  await store.close()
  await ledger.close()
  await fs.rm(dir, { recursive: true, force: true })
}
