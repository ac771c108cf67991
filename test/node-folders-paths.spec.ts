/**
 * Paths wherever a CID is taken (cat, stat, pin, get, ls, resolve), a
 * directory downloaded by a second node over the private swarm (temp folder
 * + rename, the tree identical, symlinks kept), and the destination checks
 * made before anything is fetched.
 */
import { existsSync, readFileSync, readlinkSync, readdirSync } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesOf, writeSampleTree } from './helpers/folders.js'
import { text } from './helpers/streams.js'
import { startTwoNodes } from './helpers/two-nodes.js'
import type { TwoNodes } from './helpers/two-nodes.js'
import type { AddedEntry, LsEntry, WorkspaceNode } from '../src/node/index.js'

let nodes: TwoNodes
let dir: string
let wa: WorkspaceNode
let wb: WorkspaceNode
let root: AddedEntry

beforeAll(async () => {
  nodes = await startTwoNodes({ name: 'node-paths', workspace: 'paths', quotaBytes: 256 * 2 ** 20, b: { blockTimeout: 2000, blockRetries: 1 } })
  ;({ dir, wa, wb } = nodes)
  await mkdir(join(dir, 'site'))
  writeSampleTree(join(dir, 'site'))
  root = await wa.addDirectory(join(dir, 'site'))
})

afterAll(async () => {
  await nodes?.close()
})

describe('paths', () => {
  it('cat, stat and resolve take <cid>/a/b and /ipfs/<cid>/a/b', async () => {
    const r = root.cid.toString()
    expect(await text(wa.cat(`${r}/readme.txt`))).toBe('hello folders\n')
    expect(await text(wa.cat(`/ipfs/${r}/docs/deep/deeper/z.txt`))).toBe('z')
    const st = await wa.stat(`${r}/docs/a.txt`)
    expect(st.size).toBe(1000)
    const resolved = await wa.resolve(`${r}/docs/a.txt`)
    expect(st.cid.equals(resolved.cid)).toBe(true)
  })

  it('a missing name: PathNotFoundError; a name under a file: NotADirectoryError', async () => {
    const r = root.cid.toString()
    await expect(wa.resolve(`${r}/docs/nope.txt`)).rejects.toMatchObject({ name: 'PathNotFoundError', code: 'ERR_PATH_NOT_FOUND' })
    await expect(text(wa.cat(`${r}/nope`))).rejects.toMatchObject({ code: 'ERR_PATH_NOT_FOUND' })
    await expect(wa.resolve(`${r}/readme.txt/x`)).rejects.toMatchObject({ name: 'NotADirectoryError', code: 'ERR_NOT_A_DIRECTORY' })
    await expect(wa.resolve('not-a-cid/x')).rejects.toMatchObject({ code: 'ERR_INVALID_CID' })
  })

  it('pin of a path pins the node it names; a directory pin has the size of its files', async () => {
    const sub = `${root.cid.toString()}/docs/deep`
    const info = await wb.pin(sub, { timeout: 20_000 })
    const deep = await wa.resolve(sub)
    expect(info.cid.equals(deep.cid)).toBe(true)
    expect(await wb.isPinned(deep.cid)).toBe(true)
    expect(info.size).toBe(1024 * 1024 + 300 * 1024 + 1)
  })
})

describe('ls', () => {
  it('streams name, path, cid, size and type', async () => {
    const entries: LsEntry[] = []
    for await (const e of wa.ls(`${root.cid.toString()}/docs`)) entries.push(e)
    const byName = Object.fromEntries(entries.map(e => [e.name, e]))
    expect(Object.keys(byName).sort()).toEqual(['a.txt', 'deep', 'link'])
    expect(byName['a.txt']).toMatchObject({ type: 'file', size: 1000, path: `${root.cid.toString()}/docs/a.txt` })
    expect(byName.deep.type).toBe('directory')
    expect(byName.link).toMatchObject({ type: 'symlink', size: '../readme.txt'.length })
  })

  it('of a file: NotADirectoryError', async () => {
    await expect(async () => { for await (const _ of wa.ls(`${root.cid.toString()}/readme.txt`)) { /* none */ } }).rejects.toMatchObject({ code: 'ERR_NOT_A_DIRECTORY' })
  })
})

describe('get of a directory', () => {
  it('writes the whole tree from a peer, nothing else left in the parent folder', async () => {
    const out = join(dir, 'downloads')
    await mkdir(out)
    const target = join(out, 'site-copy')
    const got = await wb.get(root.cid, target, { timeout: 20_000 })
    expect(got).toBe(target)
    expect(readdirSync(out)).toEqual(['site-copy'])
    expect(readFileSync(join(target, 'readme.txt'), 'utf8')).toBe('hello folders\n')
    expect(readFileSync(join(target, 'docs/deep/big.bin')).equals(bytesOf('big', 1024 * 1024 + 300 * 1024))).toBe(true)
    expect(readdirSync(join(target, 'empty'))).toEqual([])
    expect(readlinkSync(join(target, 'docs/link'))).toBe('../readme.txt')
    expect(existsSync(join(target, '.hidden'))).toBe(false)
  })

  it('a path inside: only that folder', async () => {
    const target = join(dir, 'deep-only')
    await wa.get(`${root.cid.toString()}/docs/deep`, target)
    expect(readdirSync(target).sort()).toEqual(['big.bin', 'deeper'])
  })

  it('refuses an existing destination or a missing parent before fetching anything', async () => {
    const existing = join(dir, 'exists')
    await mkdir(existing)
    await writeFile(join(existing, 'keep.txt'), 'mine')
    await expect(wa.get(root.cid, existing)).rejects.toMatchObject({ name: 'DestinationError', code: 'ERR_DESTINATION' })
    expect(await readdir(existing)).toEqual(['keep.txt'])
    await expect(wa.get(root.cid, join(dir, 'no/such/parent/site'))).rejects.toMatchObject({ code: 'ERR_DESTINATION' })
    expect(existsSync(join(dir, 'no'))).toBe(false)
  })

  it('a download that fails midway leaves no temp folder', async () => {
    // a directory whose second entry is stored nowhere: the first file is written, then the walk fails
    const file = await wa.add(Buffer.from('first'), { pin: false })
    const nowhere = (await wb.add(Buffer.from('only in memory'), { pin: false })).cid
    await wb.gc()
    const node = dagPb.prepare({
      Data: new UnixFS({ type: 'directory' }).marshal(),
      Links: [{ Name: 'a.txt', Hash: file.cid, Tsize: 13 }, { Name: 'b.txt', Hash: nowhere, Tsize: 20 }]
    })
    const dirCid = await wa.blockPut(dagPb.encode(node), { format: 'dag-pb', cidVersion: 0 })
    const out = join(dir, 'fail-dl')
    await mkdir(out)
    await expect(wa.get(dirCid, join(out, 'x'), { timeout: 1500 })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    expect(readdirSync(out)).toEqual([])
  })

  it('an aborted download: AbortedError, nothing left', async () => {
    const out = join(dir, 'abort-dl')
    await mkdir(out)
    const controller = new AbortController()
    controller.abort()
    await expect(wb.get(root.cid, join(out, 'x'), { signal: controller.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' })
    expect(readdirSync(out)).toEqual([])
  })
})

describe('gc while content is being read', () => {
  it('a cat in progress keeps the blocks it has read (straight from their files) from gc; they go once it ends', async () => {
    const bytes = bytesOf('gc-during-cat', 3 * 2 ** 20)
    const { cid } = await wa.add(bytes, { pin: false })
    const blocks: string[] = [cid.toString()]
    for await (const ref of wa.refs(cid)) blocks.push(ref.toString())
    expect(blocks.length).toBeGreaterThan(2)
    const it = wa.cat(cid)[Symbol.asyncIterator]()
    const chunks: Uint8Array[] = []
    const first = await it.next()
    if (first.done === true) throw new Error('cat yielded nothing')
    chunks.push(first.value)
    // the root and the leaves read ahead (all of them: fewer than the read-ahead) are the cat's
    await wa.gc()
    for (const b of blocks) await expect(wa.blockStat(b, { offline: true })).resolves.toBeDefined()
    for (let r = await it.next(); r.done !== true; r = await it.next()) chunks.push(r.value)
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true)
    // the cat ended: nothing holds them now
    await wa.gc()
    await expect(wa.blockStat(cid, { offline: true })).rejects.toBeDefined()
  })
})
