/**
 * The OrchestratorStore contract as a reusable suite (`storeSuite({ setup, teardown })`),
 * run here against SQLite (':memory:' and a file, with and without key
 * encryption). A PostgreSQL store (issue #14) runs the same suite.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, beforeEach, afterEach } from 'vitest'
import { openOrchestratorStore, parseKeyEncryptionKey } from '../src/orchestrator/index.js'
import type { OrchestratorStore } from '../src/orchestrator/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'

export interface StoreSuiteHooks {
  setup(): Promise<OrchestratorStore> | OrchestratorStore
  teardown(store: OrchestratorStore): Promise<void> | void
}

export function storeSuite (name: string, hooks: StoreSuiteHooks): void {
  describe(`OrchestratorStore: ${name}`, () => {
    let store: OrchestratorStore
    beforeEach(async () => { store = await hooks.setup() })
    afterEach(async () => { await hooks.teardown(store) })

    const seed = (): { key: string } => {
      const key = generateSwarmKey()
      store.insertWorkspace({ id: 'w', name: 'W', swarm_key: key, key_version: 1, created_at: 1 })
      store.insertNode({ id: 'n1', name: 'one', token_hash: Buffer.alloc(32, 1), created_at: 2 })
      store.insertNode({ id: 'n2', name: 'two', token_hash: Buffer.alloc(32, 2), created_at: 3 })
      return { key }
    }

    it('keeps workspaces, nodes and memberships, and gives swarm keys back in plain text', () => {
      const { key } = seed()
      expect(store.getWorkspace('w')).toMatchObject({ id: 'w', swarm_key: key, key_version: 1 })
      const next = generateSwarmKey()
      store.setWorkspaceKey('w', next, 2)
      expect(store.listWorkspaces().map(w => [w.id, w.swarm_key, w.key_version])).toEqual([['w', next, 2]])
      expect(store.getNodeByTokenHash(Buffer.alloc(32, 2))?.id).toBe('n2')
      expect(store.addMember('w', 'n1', 5)).toBe(true)
      expect(store.addMember('w', 'n1', 6)).toBe(false)
      expect(store.isMember('w', 'n1')).toBe(true)
      expect(store.listMemberIds('w')).toEqual(['n1'])
      expect(store.listWorkspaceIdsOfNode('n1')).toEqual(['w'])
      store.setNodeStorage('n1', 1, 10, 9, 7, 100)
      expect(store.getNode('n1')).toMatchObject({ storage_used: 1, storage_quota: 10, storage_free: 9, storage_reported_at: 7, storage_drive_free: 100 })
    })

    it('keeps pins and allocations; an unpinning allocation outlives its pin', () => {
      seed()
      store.addMember('w', 'n1', 5)
      store.upsertPin({ workspace_id: 'w', cid: 'c', name: 'a', size: 10, replication_min: 1, replication_max: 2, created_at: 8 })
      // a later upsert without a size keeps the known one
      store.upsertPin({ workspace_id: 'w', cid: 'c', name: 'b', size: null, replication_min: 1, replication_max: 3, created_at: 8 })
      expect(store.getPin('w', 'c')).toMatchObject({ name: 'b', size: 10, replication_max: 3 })
      store.setAllocation('w', 'c', 'n1', 'pinning', null, 9)
      store.setAllocation('w', 'c', 'n1', 'unpinning', null, 10)
      expect(store.deletePin('w', 'c')).toBe(true)
      expect(store.listAllocationsOfPin('w', 'c')).toMatchObject([{ node_id: 'n1', state: 'unpinning', updated_at: 10 }])
      store.deleteAllocationsOfNode('n1', 'w')
      expect(store.listAllocationsOfWorkspace('w')).toEqual([])
    })

    it('rolls a failed transaction back whole, and nested ones alone', () => {
      seed()
      expect(() => store.transaction(() => {
        store.setMeta('a', '1')
        throw new Error('boom')
      })).toThrow('boom')
      expect(store.getMeta('a')).toBeUndefined()
      store.transaction(() => {
        store.setMeta('b', '1')
        expect(() => store.transaction(() => { store.setMeta('c', '1'); throw new Error('inner') })).toThrow('inner')
      })
      expect([store.getMeta('b'), store.getMeta('c')]).toEqual(['1', undefined])
    })

    it('re-encrypts every key under a new KEK and back to plain text', () => {
      const { key } = seed()
      expect(store.rotateKeyEncryptionKey(parseKeyEncryptionKey(randomBytes(32)))).toBe(1)
      expect(store.encryptsKeys).toBe(true)
      expect(store.getWorkspace('w')?.swarm_key).toBe(key)
      expect(store.rotateKeyEncryptionKey(null)).toBe(1)
      expect(store.encryptsKeys).toBe(false)
      expect(store.getWorkspace('w')?.swarm_key).toBe(key)
    })
  })
}

storeSuite('SQLite in memory', { setup: () => openOrchestratorStore({ path: ':memory:' }), teardown: s => { s.close() } })

let dir: string
storeSuite('SQLite file with encrypted keys', {
  async setup () {
    dir = await mkdtemp(join(tmpdir(), 'orch-store-'))
    return openOrchestratorStore({ path: join(dir, 'o.db'), keyEncryptionKey: parseKeyEncryptionKey(randomBytes(32)) })
  },
  async teardown (s) {
    s.close()
    await rm(dir, { recursive: true, force: true })
  }
})
