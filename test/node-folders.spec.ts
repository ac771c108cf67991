/**
 * Adding folders: the CIDs of ipfs-unixfs-importer with the same IPIP-499
 * profile (Kubo's `ipfs add -r` for 'kubo'), nested, empty folders, hidden
 * files, symlinks, wrapWithDirectory, a directory large enough to shard, file
 * CIDs checked with `ipfs_cid`, one pin whose size is the files' size, and
 * nothing left behind by a failed add.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'
import { bytesOf, candidatesOf, referenceCids, writeSampleTree } from './helpers/folders.js'
import type { AddedEntry, StorageNode, WorkspaceNode } from '../src/node/index.js'

const PROFILES = { kubo: 'unixfs-v0-2015', cidv1: 'unixfs-v1-2025' } as const

let dir: string
let tree: string
let node: StorageNode
let ws: WorkspaceNode

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-folders-'))
  tree = join(dir, 'site')
  await mkdir(tree)
  writeSampleTree(tree)
  node = await createStorageNode({ storagePath: join(dir, 'store'), quotaBytes: 512 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
  ws = await node.join('folders', generateSwarmKey())
})

afterAll(async () => {
  await node?.stop()
  await rm(dir, { recursive: true, force: true })
})

async function collectEntries (source: AsyncIterable<AddedEntry>): Promise<AddedEntry[]> {
  const out: AddedEntry[] = []
  for await (const e of source) out.push(e)
  return out
}

describe('addDirectory: the CIDs of ipfs-unixfs-importer with the same profile', () => {
  for (const profile of ['kubo', 'cidv1'] as const) {
    it(`${profile}: every entry and the root`, async () => {
      const ref = await referenceCids(candidatesOf(tree, 'site'), { profile: PROFILES[profile] })
      const entries: AddedEntry[] = []
      const root = await ws.addDirectory(tree, { profile, onEntry: (e) => entries.push(e) })
      expect(root.cid.toString()).toBe(ref.root)
      expect(root.path).toBe('site')
      expect(root.type).toBe('directory')
      expect(entries.at(-1)?.path).toBe('site')
      const got = new Map(entries.map(e => [e.path, e.cid.toString()]))
      // empty folder kept (and reported, as Kubo does; the reference importer links it without yielding it)
      expect(entries.find(e => e.path === 'site/empty')?.type).toBe('directory')
      got.delete('site/empty')
      expect(got).toEqual(ref.byPath)
      // hidden names skipped, symlink stored as a symlink
      expect(entries.find(e => e.path === 'site/docs/link')?.type).toBe('symlink')
      expect([...got.keys()].some(p => p.includes('.hidden') || p.includes('.git'))).toBe(false)
      // one pin, the size of all files
      const total = 14 + 0 + 1000 + 1024 * 1024 + 300 * 1024 + 1
      expect(root.size).toBe(total)
      const pin = (await ws.pins()).find(p => p.cid.equals(root.cid))
      expect(pin?.size).toBe(total)
      expect(pin?.name).toBe('site')
    })
  }

  it('hidden: true includes dot-files', async () => {
    const ref = await referenceCids(candidatesOf(tree, 'site', { hidden: true }), { profile: 'unixfs-v0-2015' })
    const root = await ws.addDirectory(tree, { hidden: true, pin: false })
    expect(root.cid.toString()).toBe(ref.root)
    expect(ref.byPath.has('site/.git/config')).toBe(true)
  })

  it('cidVersion: 1 implies raw leaves (as Kubo), unless rawLeaves: false', async () => {
    const implied = await referenceCids(candidatesOf(tree, 'site'), { profile: 'unixfs-v0-2015', cidVersion: 1, rawLeaves: true })
    expect((await ws.addDirectory(tree, { cidVersion: 1, pin: false })).cid.toString()).toBe(implied.root)
    const wrapped = await referenceCids(candidatesOf(tree, 'site'), { profile: 'unixfs-v0-2015', cidVersion: 1, rawLeaves: false })
    expect((await ws.addDirectory(tree, { cidVersion: 1, rawLeaves: false, pin: false })).cid.toString()).toBe(wrapped.root)
  })

  it('file CIDs match ipfs_cid (Kubo defaults) when it is installed', async (ctx) => {
    if (!existsSync('/usr/bin/ipfs_cid')) ctx.skip()
    const entries = await collectEntries(ws.addAll([
      { path: 'x/readme.txt', content: Buffer.from('hello folders\n') },
      { path: 'x/big.bin', content: bytesOf('big', 1024 * 1024 + 300 * 1024) }
    ], { pin: false }))
    for (const [name, file] of [['x/readme.txt', 'readme.txt'], ['x/big.bin', 'docs/deep/big.bin']]) {
      const out = JSON.parse(execFileSync('/usr/bin/ipfs_cid', [join(tree, file)], { stdio: ['ignore', 'pipe', 'ignore'] }).toString())
      expect(entries.find(e => e.path === name)?.cid.toString()).toBe(out.CIDv0)
    }
  })
})

describe('addAll', () => {
  it('wrapWithDirectory: loose files in one directory, yielded root last with path ""', async () => {
    const files = [{ path: 'a.txt', content: Buffer.from('a') }, { path: 'b/c.txt', content: Buffer.from('c') }, { path: 'e/' }]
    const ref = await referenceCids(files.map(f => ({ ...f })), { profile: 'unixfs-v0-2015', wrapWithDirectory: true })
    const entries = await collectEntries(ws.addAll(files, { wrapWithDirectory: true }))
    expect(entries.at(-1)?.path).toBe('')
    expect(entries.at(-1)?.cid.toString()).toBe(ref.root)
    expect(entries.map(e => e.path).sort()).toEqual(['', 'a.txt', 'b', 'b/c.txt', 'e'])
  })

  it('refuses ".." in a path', async () => {
    await expect(collectEntries(ws.addAll([{ path: 'a/../../etc/passwd', content: Buffer.from('x') }]))).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
  })

  it('a directory large enough to shard (HAMT) gets the reference CID in both profiles', async () => {
    const files = Array.from({ length: 5000 }, (_, i) => ({ path: `big/file-with-a-longish-name-${i}.txt`, content: Buffer.from(`file ${i}\n`) }))
    for (const profile of ['kubo', 'cidv1'] as const) {
      const ref = await referenceCids(files.map(f => ({ ...f })), { profile: PROFILES[profile] })
      const entries = await collectEntries(ws.addAll(files, { profile }))
      const root = entries.at(-1) as AddedEntry
      expect(root.cid.toString()).toBe(ref.root)
      expect(entries).toHaveLength(5001)
      // it is a HAMT: resolve a path through it and read a file
      const chunks: Uint8Array[] = []
      for await (const c of ws.cat(`${root.cid.toString()}/file-with-a-longish-name-4321.txt`)) chunks.push(c)
      expect(Buffer.concat(chunks).toString()).toBe('file 4321\n')
      let n = 0
      for await (const e of ws.ls(root.cid)) { n++; expect(e.type).toBe('file') }
      expect(n).toBe(5000)
    }
  })
})

describe('all or nothing', () => {
  it('symlinks: "refuse" throws SymlinkNotAllowedError and leaves nothing counted', async () => {
    const other = join(dir, 'refused')
    await mkdir(other)
    await writeFile(join(other, 'new-content.bin'), bytesOf('refused', 3 * 262144))
    await writeFile(join(other, 'l'), '')
    await rm(join(other, 'l'))
    const { symlinkSync } = await import('node:fs')
    symlinkSync('new-content.bin', join(other, 'zz-link'))
    const before = (await node.stats()).usedBytes
    const pinsBefore = (await ws.pins()).length
    await expect(ws.addDirectory(other, { symlinks: 'refuse' })).rejects.toMatchObject({ name: 'SymlinkNotAllowedError', code: 'ERR_SYMLINK_NOT_ALLOWED' })
    expect((await node.stats()).usedBytes).toBe(before)
    expect((await ws.pins()).length).toBe(pinsBefore)
  })

  it('a source failing midway: usage back to the byte, no pin', async () => {
    const before = (await node.stats()).usedBytes
    const pinsBefore = (await ws.pins()).length
    async function * failing (): AsyncGenerator<{ path: string, content: Uint8Array }> {
      for (let i = 0; i < 50; i++) yield { path: `fail/f${i}`, content: bytesOf(`fail-${i}`, 10_000) }
      throw new Error('source broke')
    }
    await expect(collectEntries(ws.addAll(failing()))).rejects.toThrow('source broke')
    expect((await node.stats()).usedBytes).toBe(before)
    expect((await ws.pins()).length).toBe(pinsBefore)
  })

  it('refused by the quota: QuotaExceededError, usage back to the byte, no pin', async () => {
    const small = await createStorageNode({ storagePath: join(dir, 'small'), quotaBytes: 1024 * 1024, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      const w = await small.join('small', generateSwarmKey())
      await collectEntries(w.addAll([{ path: 'keep/a.txt', content: bytesOf('keep', 100_000) }]))
      const before = (await small.stats()).usedBytes
      const files = Array.from({ length: 40 }, (_, i) => ({ path: `big/f${i}.bin`, content: bytesOf(`q-${i}`, 50_000) }))
      await expect(collectEntries(w.addAll(files))).rejects.toMatchObject({ code: 'ERR_QUOTA_EXCEEDED' })
      expect((await small.stats()).usedBytes).toBe(before)
      expect((await w.pins()).length).toBe(1)
    } finally {
      await small.stop()
    }
  })

  it('an abort midway: AbortedError, usage back to the byte', async () => {
    const before = (await node.stats()).usedBytes
    const controller = new AbortController()
    const files = Array.from({ length: 200 }, (_, i) => ({ path: `ab/f${i}`, content: bytesOf(`abort-${i}`, 5000) }))
    const run = collectEntries(ws.addAll(files, { signal: controller.signal, onEntry: (e) => { if (e.path === 'ab/f20') controller.abort() } }))
    await expect(run).rejects.toMatchObject({ code: 'ERR_ABORTED' })
    expect((await node.stats()).usedBytes).toBe(before)
  })
})
