import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { interfaceBlockstoreTests } from 'interface-blockstore-tests'
import { describe } from 'vitest'
import { createQuotaBlockstore, createQuotaLedger } from '../src/blockstore/index.js'
import type { QuotaBlockstore } from '../src/blockstore/index.js'

describe('QuotaBlockstore over FsBlockstore: interface-blockstore compliance', () => {
  const dirs = new Map<QuotaBlockstore, string>()

  interfaceBlockstoreTests({
    async setup () {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'quota-compliance-'))
      const ledger = createQuotaLedger({ limitBytes: 1024 * 1024 * 1024, statePath: path.join(dir, 'quota-ledger.json'), reserveBytes: 0 })
      const blocks = path.join(dir, 'blocks')
      const store = createQuotaBlockstore({ child: new FsBlockstore(blocks), ledger, name: 'compliance', directory: blocks })
      await store.open()
      dirs.set(store, dir)
      return store
    },
    async teardown (store) {
      await store.close()
      const dir = dirs.get(store)
      dirs.delete(store)
      if (dir != null) await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
