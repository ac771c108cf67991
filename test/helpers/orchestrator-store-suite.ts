/**
 * The orchestrator store's behaviour, run against every implementation of
 * {@link AsyncOrchestratorStore} (like interface-blockstore-tests): each test
 * gets a fresh, empty store from `setup` and hands it to `teardown`.
 *
 * @example
 * ```ts
 * orchestratorStoreSuite('sqlite', {
 *   setup: async () => asyncSqliteStore(openOrchestratorStore({ path: ':memory:' })),
 *   teardown: async (store) => { await store.close() }
 * })
 * ```
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { chooseNodes } from '../../src/orchestrator/placement.js'
import type { AllocationRow, AsyncOrchestratorStore, PinRow } from '../../src/orchestrator/store/async-store.js'

export interface StoreSuiteInit {
  setup: () => Promise<AsyncOrchestratorStore>
  teardown: (store: AsyncOrchestratorStore) => Promise<void>
}

const T0 = 1_700_000_000_000

function pin (workspaceId: string, cid: string, over: Partial<PinRow> = {}): PinRow {
  return { workspace_id: workspaceId, cid, name: null, size: null, replication_min: 1, replication_max: 1, created_at: T0, ...over }
}

async function fixture (store: AsyncOrchestratorStore, nodes = 3): Promise<{ ws: string, nodeIds: string[] }> {
  await store.insertWorkspace({ id: 'ws1', name: 'one', swarm_key: 'key-1', key_version: 1, created_at: T0 })
  const nodeIds: string[] = []
  for (let i = 0; i < nodes; i++) {
    const id = `node${i}`
    await store.insertNode({ id, name: `n${i}`, token_hash: randomBytes(32), created_at: T0 + i })
    await store.addMember('ws1', id, T0 + i)
    nodeIds.push(id)
  }
  return { ws: 'ws1', nodeIds }
}

/**
 * One placement step as the orchestrator does it: lock the pin, read its
 * copies, allocate the missing ones to candidates that have none.
 */
export async function placeOnce (store: AsyncOrchestratorStore, ws: string, cid: string, candidates: string[], target: number): Promise<string[]> {
  return await store.transaction(async tx => {
    const row = await tx.lockPin(ws, cid)
    if (row == null) return []
    const allocations = await tx.listAllocationsOfPin(ws, cid)
    const have = new Set(allocations.map(a => a.node_id))
    const chosen = chooseNodes(candidates.filter(id => !have.has(id)).map(nodeId => ({ nodeId, free: undefined })), target - allocations.length)
    for (const nodeId of chosen) await tx.setAllocation(ws, cid, nodeId, 'pinning', null, T0)
    return chosen
  })
}

export function orchestratorStoreSuite (name: string, init: StoreSuiteInit): void {
  describe(`orchestrator store: ${name}`, () => {
    let store: AsyncOrchestratorStore

    beforeEach(async () => { store = await init.setup() })
    afterEach(async () => { await init.teardown(store) })

    it('starts empty', async () => {
      expect(await store.listWorkspaces()).toEqual([])
      expect(await store.listNodes()).toEqual([])
      expect(await store.listAllPins()).toEqual([])
      expect(await store.getMeta('last_alive')).toBeUndefined()
    })

    it('stores workspaces in creation order and rotates their key', async () => {
      await store.insertWorkspace({ id: 'b', name: 'B', swarm_key: 'kb', key_version: 1, created_at: T0 })
      await store.insertWorkspace({ id: 'a', name: 'A', swarm_key: 'ka', key_version: 1, created_at: T0 })
      await store.insertWorkspace({ id: 'c', name: 'C', swarm_key: 'kc', key_version: 1, created_at: T0 - 1 })
      expect((await store.listWorkspaces()).map(w => w.id)).toEqual(['c', 'a', 'b'])
      await store.setWorkspaceKey('a', 'ka2', 2)
      expect(await store.getWorkspace('a')).toEqual({ id: 'a', name: 'A', swarm_key: 'ka2', key_version: 2, created_at: T0 })
      expect(await store.getWorkspace('nope')).toBeUndefined()
      await expect(store.insertWorkspace({ id: 'a', name: 'again', swarm_key: 'k', key_version: 1, created_at: T0 })).rejects.toThrow()
    })

    it('stores nodes, finds them by token hash and keeps their storage report', async () => {
      const hash = randomBytes(32)
      await store.insertNode({ id: 'n1', name: 'first', token_hash: hash, created_at: T0 })
      const row = await store.getNodeByTokenHash(Buffer.from(hash))
      expect(row?.id).toBe('n1')
      expect(Buffer.isBuffer(row?.token_hash)).toBe(true)
      expect(Buffer.compare(row!.token_hash, hash)).toBe(0)
      expect(await store.getNodeByTokenHash(randomBytes(32))).toBeUndefined()
      expect(row).toMatchObject({ last_seen: null, storage_used: null, storage_quota: null, storage_free: null, storage_reported_at: null, storage_drive_free: null })

      await store.setNodeName('n1', 'renamed')
      await store.touchNode('n1', T0 + 5)
      // byte counts past 2^32 come back as numbers, not strings
      await store.setNodeStorage('n1', 2 ** 40, 2 ** 41, 2 ** 41 - 2 ** 40, T0 + 6, 2 ** 42)
      expect(await store.getNode('n1')).toMatchObject({
        name: 'renamed', last_seen: T0 + 5, storage_used: 2 ** 40, storage_quota: 2 ** 41, storage_free: 2 ** 40, storage_reported_at: T0 + 6, storage_drive_free: 2 ** 42
      })
      await store.setNodeStorage('n1', 1, 2, 1, T0 + 7)
      expect((await store.getNode('n1'))?.storage_drive_free).toBeNull()

      await expect(store.insertNode({ id: 'n2', name: 'dup', token_hash: hash, created_at: T0 })).rejects.toThrow()
      await store.insertNode({ id: 'n0', name: 'zero', token_hash: randomBytes(32), created_at: T0 })
      expect((await store.listNodes()).map(n => n.id)).toEqual(['n0', 'n1'])
    })

    it('adds and removes members; a removed member loses its peer row', async () => {
      const { ws, nodeIds } = await fixture(store)
      expect(await store.addMember(ws, 'node0', T0)).toBe(false)
      expect(await store.isMember(ws, 'node1')).toBe(true)
      expect(await store.listMemberIds(ws)).toEqual(nodeIds)
      expect(await store.listWorkspaceIdsOfNode('node2')).toEqual([ws])

      await store.upsertPeer(ws, 'node1', 'peerA', ['/ip4/127.0.0.1/tcp/1'], T0)
      await store.upsertPeer(ws, 'node1', 'peerB', ['/ip4/127.0.0.1/tcp/2', '/ip4/127.0.0.1/tcp/3'], T0 + 1)
      expect(await store.getPeer(ws, 'node1')).toEqual({ workspace_id: ws, node_id: 'node1', peer_id: 'peerB', addresses: '["/ip4/127.0.0.1/tcp/2","/ip4/127.0.0.1/tcp/3"]', updated_at: T0 + 1 })
      expect(await store.listPeers(ws)).toHaveLength(1)

      expect(await store.removeMember(ws, 'node1')).toBe(true)
      expect(await store.removeMember(ws, 'node1')).toBe(false)
      expect(await store.isMember(ws, 'node1')).toBe(false)
      expect(await store.getPeer(ws, 'node1')).toBeUndefined()
      expect(await store.listWorkspaceIdsOfNode('node1')).toEqual([])
    })

    it('upserts pins, keeping a known size', async () => {
      const { ws } = await fixture(store, 0)
      await store.upsertPin(pin(ws, 'bafy2', { size: 2 ** 35, created_at: T0 + 1 }))
      await store.upsertPin(pin(ws, 'bafy1', { name: 'one' }))
      await store.upsertPin(pin(ws, 'bafy2', { name: 'two', replication_min: 2, replication_max: -1 }))
      expect(await store.getPin(ws, 'bafy2')).toEqual(pin(ws, 'bafy2', { name: 'two', size: 2 ** 35, replication_min: 2, replication_max: -1, created_at: T0 + 1 }))
      expect((await store.listPins(ws)).map(p => p.cid)).toEqual(['bafy1', 'bafy2'])
      expect((await store.listAllPins()).map(p => p.cid)).toEqual(['bafy1', 'bafy2'])
      expect(await store.deletePin(ws, 'bafy1')).toBe(true)
      expect(await store.deletePin(ws, 'bafy1')).toBe(false)
      expect(await store.getPin(ws, 'bafy1')).toBeUndefined()
    })

    it('keeps allocations per pin and node; an unpinning one outlives its pin', async () => {
      const { ws } = await fixture(store)
      await store.upsertPin(pin(ws, 'bafyA'))
      await store.upsertPin(pin(ws, 'bafyB'))
      await store.setAllocation(ws, 'bafyA', 'node0', 'pinning', null, T0)
      await store.setAllocation(ws, 'bafyA', 'node0', 'failed', 'disk full', T0 + 1)
      await store.setAllocation(ws, 'bafyA', 'node1', 'pinned', null, T0)
      await store.setAllocation(ws, 'bafyB', 'node0', 'queued', null, T0)
      expect(await store.getAllocation(ws, 'bafyA', 'node0')).toEqual({ workspace_id: ws, cid: 'bafyA', node_id: 'node0', state: 'failed', error: 'disk full', updated_at: T0 + 1 })
      expect((await store.listAllocationsOfPin(ws, 'bafyA')).map(a => a.node_id).sort()).toEqual(['node0', 'node1'])
      expect((await store.listAllocationsOfNode('node0', ws)).map(a => a.cid).sort()).toEqual(['bafyA', 'bafyB'])
      expect(await store.listAllocationsOfWorkspace(ws)).toHaveLength(3)
      await expect(store.setAllocation(ws, 'bafyA', 'node2', 'lost' as any, null, T0)).rejects.toThrow()

      await store.setAllocation(ws, 'bafyB', 'node0', 'unpinning', null, T0 + 2)
      await store.deletePin(ws, 'bafyB')
      expect((await store.getAllocation(ws, 'bafyB', 'node0'))?.state).toBe('unpinning')

      expect(await store.deleteAllocation(ws, 'bafyA', 'node1')).toBe(true)
      expect(await store.deleteAllocation(ws, 'bafyA', 'node1')).toBe(false)
      await store.deleteAllocationsOfNode('node0', ws)
      expect(await store.listAllocationsOfWorkspace(ws)).toEqual([])
    })

    it('writes and deletes many allocations at once, the last row of a repeated key winning', async () => {
      const { ws } = await fixture(store)
      const rows = Array.from({ length: 30 }, (_, i) => ({ workspace_id: ws, cid: `bafy${i}`, node_id: `node${i % 3}`, state: 'pinning' as const, error: null, updated_at: T0 }))
      await store.setAllocations([...rows, { ...rows[0], state: 'failed', error: 'no room', updated_at: T0 + 1 }])
      expect(await store.listAllocationsOfWorkspace(ws)).toHaveLength(30)
      expect(await store.getAllocation(ws, 'bafy0', 'node0')).toMatchObject({ state: 'failed', error: 'no room', updated_at: T0 + 1 })
      await store.setAllocations([])
      expect(await store.deleteAllocations(ws, [{ cid: 'bafy1', node_id: 'node1' }, { cid: 'bafy2', node_id: 'node2' }, { cid: 'bafy1', node_id: 'node0' }])).toBe(2)
      expect(await store.listAllocationsOfWorkspace(ws)).toHaveLength(28)
      // all or nothing: a row that breaks a constraint keeps the others out too
      await expect(store.setAllocations([{ ...rows[5], cid: 'new1' }, { ...rows[6], node_id: 'no-such-node' }])).rejects.toThrow()
      expect(await store.getAllocation(ws, 'new1', rows[5].node_id)).toBeUndefined()
    })

    it('writes allocations only for members, and returns the rows it left out', async () => {
      const { ws } = await fixture(store)
      await store.insertNode({ id: 'outsider', name: 'o', token_hash: randomBytes(32), created_at: T0 })
      await store.removeMember(ws, 'node2')
      const row = (cid: string, nodeId: string, over: Partial<AllocationRow> = {}): AllocationRow =>
        ({ workspace_id: ws, cid, node_id: nodeId, state: 'pinning', error: null, updated_at: T0, ...over })
      const dropped = await store.setMemberAllocations([
        row('bafyA', 'node0'), row('bafyA', 'outsider'), row('bafyA', 'node1'), row('bafyA', 'node2'),
        row('bafyA', 'no-such-node'), row('bafyA', 'node0', { state: 'queued', updated_at: T0 + 1 }),
        row('bafyA', 'node1', { workspace_id: 'no-such-workspace' })
      ])
      // in the order given: a node that never was a member, one removed, an unknown node, an unknown workspace
      expect(dropped).toEqual([row('bafyA', 'outsider'), row('bafyA', 'node2'), row('bafyA', 'no-such-node'), row('bafyA', 'node1', { workspace_id: 'no-such-workspace' })])
      expect((await store.listAllocationsOfPin(ws, 'bafyA')).map(a => `${a.node_id}:${a.state}`).sort()).toEqual(['node0:queued', 'node1:pinning'])
      expect(await store.getAllocation(ws, 'bafyA', 'node0')).toMatchObject({ updated_at: T0 + 1 })
      // an update of an existing row, and nothing at all
      expect(await store.setMemberAllocations([row('bafyA', 'node1', { state: 'pinned' })])).toEqual([])
      expect((await store.getAllocation(ws, 'bafyA', 'node1'))?.state).toBe('pinned')
      expect(await store.setMemberAllocations([])).toEqual([])
      // inside a transaction, a member removed by it is one no more
      await store.transaction(async tx => {
        await tx.removeMember(ws, 'node1')
        await tx.deleteAllocationsOfNode('node1', ws)
        expect(await tx.setMemberAllocations([row('bafyB', 'node1'), row('bafyB', 'node0')])).toEqual([row('bafyB', 'node1')])
      })
      expect((await store.listAllocationsOfWorkspace(ws)).map(a => `${a.cid}@${a.node_id}`).sort()).toEqual(['bafyA@node0', 'bafyB@node0'])
    })

    it('keeps meta values', async () => {
      await store.setMeta('last_alive', '1')
      await store.setMeta('last_alive', '2')
      expect(await store.getMeta('last_alive')).toBe('2')
    })

    it('commits a transaction, and rolls one back entirely when it throws', async () => {
      const { ws } = await fixture(store)
      await store.transaction(async tx => {
        await tx.upsertPin(pin(ws, 'kept'))
        await tx.setAllocation(ws, 'kept', 'node0', 'pinning', null, T0)
      })
      const failure = new Error('placement failed half-way')
      await expect(store.transaction(async tx => {
        await tx.upsertPin(pin(ws, 'lost'))
        await tx.setAllocation(ws, 'lost', 'node0', 'pinning', null, T0)
        await tx.setAllocation(ws, 'kept', 'node1', 'pinning', null, T0)
        throw failure
      })).rejects.toBe(failure)
      expect((await store.listPins(ws)).map(p => p.cid)).toEqual(['kept'])
      expect((await store.listAllocationsOfWorkspace(ws)).map(a => `${a.cid}@${a.node_id}`)).toEqual(['kept@node0'])
    })

    it('rolls back a nested transaction alone', async () => {
      const { ws } = await fixture(store)
      await store.transaction(async tx => {
        await tx.upsertPin(pin(ws, 'outer'))
        await expect(tx.transaction(async inner => {
          await inner.upsertPin(pin(ws, 'inner'))
          throw new Error('inner fails')
        })).rejects.toThrow('inner fails')
        await tx.transaction(async inner => { await inner.upsertPin(pin(ws, 'inner2')) })
        // a failing statement in a savepoint leaves the outer transaction usable on every engine
        await expect(tx.transaction(async inner => { await inner.upsertPin(pin('no-such-workspace', 'bad')) })).rejects.toThrow()
        await tx.upsertPin(pin(ws, 'after'))
      })
      expect((await store.listPins(ws)).map(p => p.cid).sort()).toEqual(['after', 'inner2', 'outer'])
    })

    it('does not fold a write made outside an open transaction into it', async () => {
      const { ws } = await fixture(store)
      let outside: Promise<void> | undefined
      await expect(store.transaction(async tx => {
        await tx.upsertPin(pin(ws, 'inside'))
        outside = store.setMeta('outside', 'yes')
        throw new Error('roll back')
      })).rejects.toThrow('roll back')
      await outside
      expect(await store.getMeta('outside')).toBe('yes')
      expect(await store.getPin(ws, 'inside')).toBeUndefined()
    })

    it('locks the pins of a workspace in cid order', async () => {
      const { ws } = await fixture(store, 0)
      for (const cid of ['c', 'a', 'b']) await store.upsertPin(pin(ws, cid, { created_at: T0 - cid.charCodeAt(0) }))
      const locked = await store.transaction(async tx => await tx.lockPins(ws))
      expect(locked.map(p => p.cid)).toEqual(['a', 'b', 'c'])
      expect(await store.transaction(async tx => await tx.lockPin(ws, 'nope'))).toBeUndefined()
    })

    it('places a pin exactly to its target when placers race', async () => {
      const { ws, nodeIds } = await fixture(store, 6)
      await store.upsertPin(pin(ws, 'raced', { replication_min: 2, replication_max: 2 }))
      const chosen = await Promise.all(Array.from({ length: 6 }, async () => await placeOnce(store, ws, 'raced', nodeIds, 2)))
      expect(chosen.flat()).toHaveLength(2)
      expect(await store.listAllocationsOfPin(ws, 'raced')).toHaveLength(2)
    })

    it('rejects a call whose signal is aborted, writing nothing', async () => {
      const { ws } = await fixture(store, 0)
      const controller = new AbortController()
      controller.abort()
      const err = await store.upsertPin(pin(ws, 'aborted'), { signal: controller.signal }).catch(e => e)
      expect(err).toMatchObject({ name: 'AbortedError', code: 'ERR_ABORTED' })
      const txErr = await store.transaction(async () => {}, { signal: controller.signal }).catch(e => e)
      expect(txErr).toMatchObject({ name: 'AbortedError', code: 'ERR_ABORTED' })
      expect(await store.getPin(ws, 'aborted')).toBeUndefined()
    })
  })
}
