/**
 * The block API: put/get/stat/rm with dag-pb, raw, dag-cbor and dag-json,
 * sha2-256 and sha2-512, a block fetched from a peer, rm refused for a pinned
 * block, refs (direct, recursive, unique) and refs local.
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WorkspaceNode } from '../src/node/index.js'
import { all } from './helpers/streams.js'
import { startTwoNodes } from './helpers/two-nodes.js'
import type { TwoNodes } from './helpers/two-nodes.js'

let nodes: TwoNodes
let wa: WorkspaceNode
let wb: WorkspaceNode

beforeAll(async () => {
  nodes = await startTwoNodes({ name: 'node-blocks', workspace: 'blocks', quotaBytes: 64 * 2 ** 20, b: { blockTimeout: 2000, blockRetries: 1 } })
  ;({ wa, wb } = nodes)
})

afterAll(async () => {
  await nodes?.close()
})

describe('blockPut / blockGet / blockStat', () => {
  it('raw (the default): CIDv1 raw sha2-256, as Kubo', async () => {
    const bytes = Buffer.from('a raw block')
    const cid = await wa.blockPut(bytes)
    expect(cid.toString()).toBe(CID.createV1(0x55, await sha256.digest(bytes)).toString())
    expect(Buffer.from(await wa.blockGet(cid)).equals(bytes)).toBe(true)
    expect(await wa.blockStat(cid.toString())).toMatchObject({ size: bytes.byteLength })
  })

  it('dag-cbor, dag-json and dag-pb (CIDv0), sha2-512', async () => {
    const cbor = dagCbor.encode({ hello: 'cbor' })
    const c1 = await wa.blockPut(cbor, { format: 'dag-cbor' })
    expect(c1.code).toBe(dagCbor.code)
    const json = dagJson.encode({ hello: 'json', n: 1 })
    const c2 = await wa.blockPut(json, { format: 'dag-json', mhtype: 'sha2-512' })
    expect(c2.toString()).toBe(CID.createV1(dagJson.code, await sha512.digest(json)).toString())
    const pb = dagPb.encode({ Data: new Uint8Array([8, 1]), Links: [] })
    const c3 = await wa.blockPut(pb, { format: 'dag-pb', cidVersion: 0 })
    expect(c3.version).toBe(0)
    for (const [cid, bytes] of [[c1, cbor], [c2, json], [c3, pb]] as const) {
      expect(Buffer.from(await wa.blockGet(cid)).equals(Buffer.from(bytes))).toBe(true)
    }
    // a sha2-512 block on disk does not break the walks over every stored block (gc, refs local)
    expect((await wa.gc()).removed).toBeGreaterThanOrEqual(3)
  })

  it('refuses bytes that are not of the format, and CIDv0 for anything but dag-pb', async () => {
    await expect(wa.blockPut(Buffer.from('not cbor \xff'), { format: 'dag-cbor' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await expect(wa.blockPut(Buffer.from('x'), { cidVersion: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await expect(wa.blockPut(Buffer.from('x'), { format: 'nope' as any })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
  })

  it('blockGet fetches a block from a peer; offline it does not', async () => {
    const cid = await wa.blockPut(Buffer.from('only on a'), { pin: true })
    await expect(wb.blockGet(cid, { offline: true })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    expect(Buffer.from(await wb.blockGet(cid, { timeout: 10_000 })).toString()).toBe('only on a')
  })

  it('a block nobody has: blockGet, blockStat and dagGet give up after `timeout` with ERR_NOT_FOUND, or at the abort with ERR_ABORTED', async () => {
    // wb is connected to wa, which does not have it either: without a deadline the want would wait forever
    const missing = CID.createV1(0x55, await sha256.digest(Buffer.from(`nobody has this ${Math.random()}`)))
    const notFound = { name: 'ContentNotFoundError', code: 'ERR_NOT_FOUND', message: expect.stringMatching(/within/) }
    await expect(wb.blockGet(missing, { timeout: 200 })).rejects.toMatchObject(notFound)
    await expect(wb.blockStat(missing, { timeout: 200 })).rejects.toMatchObject(notFound)
    await expect(wb.dagGet(missing, { timeout: 200 })).rejects.toMatchObject(notFound)
    const missingPb = CID.createV1(dagPb.code, await sha256.digest(Buffer.from(`nor this ${Math.random()}`)))
    await expect(wb.dagGet(`${missingPb.toString()}/a/b`, { timeout: 200 })).rejects.toMatchObject(notFound)

    // the caller's signal, aborted while the block is wanted, and aborted before the call
    const controller = new AbortController()
    const pending = wb.blockGet(missing, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortedError', code: 'ERR_ABORTED' })
    const stat = new AbortController()
    const pendingStat = wb.blockStat(missing, { signal: stat.signal, timeout: 60_000 })
    stat.abort()
    await expect(pendingStat).rejects.toMatchObject({ code: 'ERR_ABORTED' })
    await expect(wb.blockGet(missing, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' })
  })
})

describe('dagGet', () => {
  it('decodes the value a path names: UnixFS names, then fields and indexes, following links', async () => {
    const leaf = await wa.blockPut(dagJson.encode({ deep: ['x', 'y'] }), { format: 'dag-json' })
    const top = await wa.blockPut(dagCbor.encode({ leaf, n: 7 }), { format: 'dag-cbor' })
    expect(await wa.dagGet(top)).toEqual({ cid: top, value: { leaf, n: 7 } })
    expect(await wa.dagGet(`${top.toString()}/leaf/deep/1`)).toEqual({ cid: leaf, value: 'y' })
    expect((await wa.dagGet(`/ipfs/${top.toString()}/leaf`)).value).toEqual({ deep: ['x', 'y'] })
    await expect(wa.dagGet(`${top.toString()}/leaf/deep/2`)).rejects.toMatchObject({ code: 'ERR_PATH_NOT_FOUND' })
    await expect(wa.dagGet(`${top.toString()}/n/more`)).rejects.toMatchObject({ code: 'ERR_PATH_NOT_FOUND' })

    const [file, dir] = await all(wa.addAll([{ path: 'd/f.txt', content: Buffer.from('in a folder') }]))
    const node = await wa.dagGet(`${dir.cid.toString()}/f.txt`)
    expect(node.cid.toString()).toBe(file.cid.toString())
    // an IPLD value linking to a UnixFS folder: its names are walked as UnixFS again
    const meta = await wa.blockPut(dagCbor.encode({ files: dir.cid }), { format: 'dag-cbor' })
    expect((await wa.dagGet(`${meta.toString()}/files/f.txt`)).cid.toString()).toBe(file.cid.toString())
    expect((await wa.dagGet(`${meta.toString()}/files`)).cid.toString()).toBe(dir.cid.toString())
    await expect(wa.dagGet(`${meta.toString()}/files/nope.txt`)).rejects.toMatchObject({ code: 'ERR_PATH_NOT_FOUND' })
    const raw = await wa.blockPut(Buffer.from('raw value'))
    expect(Buffer.from((await wa.dagGet(raw)).value as Uint8Array).toString()).toBe('raw value')
  })
})

describe('blockRm', () => {
  it('removes an unpinned block; refuses a pinned one (also a block inside a pinned DAG)', async () => {
    const loose = await wa.blockPut(Buffer.from('loose'))
    await wa.blockRm(loose)
    await expect(wa.blockGet(loose, { offline: true })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    await expect(wa.blockRm(loose)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })

    const pinned = await wa.blockPut(Buffer.from('held'), { pin: true })
    await expect(wa.blockRm(pinned)).rejects.toMatchObject({ name: 'BlockPinnedError', code: 'ERR_BLOCK_PINNED' })
    const entries = await all(wa.addAll([{ path: 'd/f.txt', content: Buffer.from('inside') }]))
    const inner = entries.find(e => e.path === 'd/f.txt')?.cid as CID
    await expect(wa.blockRm(inner)).rejects.toMatchObject({ code: 'ERR_BLOCK_PINNED' })
  })
})

describe('refs', () => {
  it('direct, recursive and unique links; refsLocal lists stored blocks', async () => {
    const same = Buffer.from('x'.repeat(300))
    const entries = await all(wa.addAll([
      { path: 'r/a/one.txt', content: same },
      { path: 'r/b/two.txt', content: same },
      { path: 'r/top.txt', content: Buffer.from('top') }
    ], { pin: false }))
    const root = (entries.at(-1) as { cid: CID }).cid
    const direct = await all(wa.refs(root))
    expect(direct).toHaveLength(3)
    const recursive = await all(wa.refs(root, { recursive: true }))
    expect(recursive).toHaveLength(5) // a, b, top, and one.txt twice (the same block)
    const unique = await all(wa.refs(root, { recursive: true, unique: true }))
    expect(unique).toHaveLength(4)
    const viaPath = await all(wa.refs(`${root.toString()}/a`))
    expect(viaPath.map(String)).toEqual([entries.find(e => e.path === 'r/a/one.txt')?.cid.toString()])
    const local = new Set((await all(wa.refsLocal())).map(c => c.multihash.toString()))
    for (const c of unique) expect(local.has(c.multihash.toString())).toBe(true)
  })
})
