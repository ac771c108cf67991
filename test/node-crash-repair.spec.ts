/**
 * A process killed (SIGKILL) between writing a pin's block records and its pin record, or
 * between deleting a pin record and its block records: the restart repairs it. The ledger
 * equals the bytes on disk, no per-block pin record names a pin that does not exist, verify()
 * is clean, and gc frees what the interrupted pin held.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { afterAll, describe, expect, it } from 'vitest'
import { scanFsBlockstore } from '../src/blockstore/index.js'
import { createStorageNode } from '../src/node/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'

const repoRoot = resolve(import.meta.dirname, '..')
const dirs: string[] = []

afterAll(async () => {
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

/** Runs `script` in a child process with OTHERTHING_STORAGE_CRASH_AT=`point`; resolves with its exit signal. */
async function runUntilKilled (script: string, env: Record<string, string>, point: string): Promise<{ signal: NodeJS.Signals | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    env: { ...process.env, ...env, OTHERTHING_STORAGE_CRASH_AT: point },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const signal = await new Promise<NodeJS.Signals | null>(resolve => child.on('exit', (_code, s) => { resolve(s) }))
  return { signal, stdout, stderr }
}

/** Pin-related datastore records of a workspace (the node must be stopped). */
async function pinRecords (datastorePath: string): Promise<{ pins: number, blocks: number, pending: number }> {
  const ds = new LevelDatastore(datastorePath)
  await ds.open()
  try {
    const count = async (prefix: string): Promise<number> => {
      let n = 0
      for await (const _ of ds.queryKeys({ prefix })) n++
      return n
    }
    return { pins: await count('/pin/'), blocks: await count('/pinned-block/'), pending: await count('/pin-pending/') }
  } finally {
    await ds.close()
  }
}

const script = `
  import { randomBytes } from 'node:crypto'
  import './src/polyfill.ts'
  import { createStorageNode } from './src/node/index.ts'
  const { STORAGE_PATH, SWARM_KEY, OP } = process.env
  const node = await createStorageNode({ storagePath: STORAGE_PATH, quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
  const ws = await node.join('crash', SWARM_KEY)
  if (OP === 'add') {
    // zeros and random bytes: repeated and unique leaves
    const data = Buffer.concat([new Uint8Array(2 * 2 ** 20), randomBytes(2 * 2 ** 20)])
    await ws.add(data)
  } else {
    const [pin] = await ws.pins()
    await ws.unpin(pin.cid)
  }
  process.stdout.write('not killed\\n')
  await node.stop()
`

describe('crash between block records and pin record', () => {
  it('kill -9 after the block records of an add: restart repairs, gc frees, verify clean', async () => {
    const storagePath = await mkdtemp(join(tmpdir(), 'node-crash-'))
    dirs.push(storagePath)
    const key = generateSwarmKey()
    const run = await runUntilKilled(script, { STORAGE_PATH: storagePath, SWARM_KEY: key, OP: 'add' }, 'pin-records')
    expect(run.signal, run.stderr).toBe('SIGKILL')
    expect(run.stdout).not.toContain('not killed')

    const wsRoot = join(storagePath, 'otherthing-storage', 'ipfs', 'workspaces', 'crash')
    // what the crash left: block records naming a pin that has no pin record
    const left = await pinRecords(join(wsRoot, 'datastore'))
    expect(left.pins).toBe(0)
    expect(left.blocks).toBeGreaterThan(0)
    expect(left.pending).toBe(1)

    const node = await createStorageNode({ storagePath, quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      const ws = await node.join('crash', key)
      const disk = await scanFsBlockstore(join(wsRoot, 'blocks'))
      expect(disk.blocks).toBeGreaterThan(0)
      expect((await node.stats()).usedBytes).toBe(disk.bytes)
      expect(await ws.pins()).toEqual([])
      const verified = await ws.verify()
      expect(verified.corrupt).toEqual([])
      expect(verified.failed).toEqual([])
      // nothing holds the blocks any more: gc frees every byte
      await ws.gc()
      expect((await node.stats()).usedBytes).toBe(0)
      expect((await scanFsBlockstore(join(wsRoot, 'blocks'))).bytes).toBe(0)
      // the workspace works as before
      const again = await ws.add(randomBytes(100_000))
      expect(await ws.isPinned(again.cid)).toBe(true)
    } finally {
      await node.stop()
    }
    expect(await pinRecords(join(wsRoot, 'datastore'))).toMatchObject({ pins: 1, pending: 0 })
  })

  it('kill -9 after the pin record of an unpin is deleted: restart finishes the unpin', async () => {
    const storagePath = await mkdtemp(join(tmpdir(), 'node-crash-'))
    dirs.push(storagePath)
    const key = generateSwarmKey()
    const node = await createStorageNode({ storagePath, quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
    const ws = await node.join('crash', key)
    await ws.add(Buffer.concat([new Uint8Array(2 * 2 ** 20), randomBytes(2 ** 20)]))
    await node.stop()

    const run = await runUntilKilled(script, { STORAGE_PATH: storagePath, SWARM_KEY: key, OP: 'unpin' }, 'unpin-records')
    expect(run.signal, run.stderr).toBe('SIGKILL')
    const wsRoot = join(storagePath, 'otherthing-storage', 'ipfs', 'workspaces', 'crash')
    expect(await pinRecords(join(wsRoot, 'datastore'))).toMatchObject({ pins: 0, pending: 1 })

    const restarted = await createStorageNode({ storagePath, quotaBytes: 64 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      const wr = await restarted.join('crash', key)
      expect(await wr.pins()).toEqual([])
      await wr.gc()
      expect((await restarted.stats()).usedBytes).toBe(0)
      expect((await wr.verify()).corrupt).toEqual([])
    } finally {
      await restarted.stop()
    }
    expect(await pinRecords(join(wsRoot, 'datastore'))).toEqual({ pins: 0, blocks: 0, pending: 0 })
  })
})

