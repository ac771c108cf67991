/**
 * CAR files: our export read back with @ipld/car's reader (every block
 * verified), imported by another node; a CAR made by ipfs-car imports; a
 * dag-cbor DAG; and every failure (garbage, truncated, a block that does not
 * match its CID, over quota) leaves usage back to the byte and nothing pinned.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CarReader } from '@ipld/car/reader'
import { CarWriter } from '@ipld/car/writer'
import { CAREncoderStream, createDirectoryEncoderStream } from 'ipfs-car'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesOf } from './helpers/folders.js'
import { concat as bytesOfStream, text } from './helpers/streams.js'
import { startTwoNodes } from './helpers/two-nodes.js'
import type { TwoNodes } from './helpers/two-nodes.js'
import type { AddedEntry, StorageNode, WorkspaceNode } from '../src/node/index.js'

let nodes: TwoNodes
let b: StorageNode
let wa: WorkspaceNode
let wb: WorkspaceNode
let root: AddedEntry

async function carOf (roots: CID[], blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  const collected = bytesOfStream(out)
  for (const block of blocks) await writer.put(block)
  await writer.close()
  return collected
}

async function rawBlock (bytes: Uint8Array): Promise<{ cid: CID, bytes: Uint8Array }> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

beforeAll(async () => {
  // another workspace on another node: nothing can come from a peer, everything from the CAR
  nodes = await startTwoNodes({ name: 'node-car', workspace: ['car-a', 'car-b'], quotaBytes: 256 * 2 ** 20, quotaBytesB: 4 * 2 ** 20 })
  ;({ b, wa, wb } = nodes)
  const files = [
    { path: 'model/config.json', content: Buffer.from('{"layers":2}') },
    { path: 'model/weights.bin', content: bytesOf('weights', 700_000) },
    { path: 'model/tok/vocab.txt', content: Buffer.from('a\nb\n') },
    { path: 'model/empty/' }
  ]
  for await (const e of wa.addAll(files)) root = e
})

afterAll(async () => {
  await nodes?.close()
})

describe('exportCar', () => {
  it('reads back with @ipld/car: the root, every block of the DAG once, each matching its CID', async () => {
    const car = await bytesOfStream(wa.exportCar(root.cid))
    const reader = await CarReader.fromBytes(car)
    expect((await reader.getRoots()).map(String)).toEqual([root.cid.toString()])
    let n = 0
    for await (const { cid, bytes } of reader.blocks()) {
      n++
      expect(Buffer.from((await sha256.digest(bytes)).digest).equals(Buffer.from(cid.multihash.digest))).toBe(true)
    }
    expect(n).toBe((await wa.stat(root.cid)).blocks)
  })

  it('of a path: the DAG of the node it names', async () => {
    const reader = await CarReader.fromBytes(await bytesOfStream(wa.exportCar(`${root.cid.toString()}/tok`)))
    const tok = await wa.resolve(`${root.cid.toString()}/tok`)
    expect((await reader.getRoots())[0].equals(tok.cid)).toBe(true)
  })
})

describe('importCar', () => {
  it('imports our export on a node with no peers: roots pinned, content readable', async () => {
    const car = await bytesOfStream(wa.exportCar(root.cid))
    const result = await wb.importCar(car)
    expect(result.roots.map(String)).toEqual([root.cid.toString()])
    expect(result.blocks).toBe((await wa.stat(root.cid)).blocks)
    expect(await wb.isPinned(root.cid)).toBe(true)
    const pin = (await wb.pins()).find(p => p.cid.equals(root.cid))
    expect(pin?.size).toBe(12 + 700_000 + 4)
    expect(await text(wb.cat(`${root.cid.toString()}/tok/vocab.txt`))).toBe('a\nb\n')
  })

  it('imports a CAR made by ipfs-car (streamed)', async () => {
    const files = [
      { name: 'pack/hello.txt', stream: () => new Blob(['hello from ipfs-car']).stream() },
      { name: 'pack/sub/data.bin', stream: () => new Blob([new Uint8Array(bytesOf('ipfs-car', 300_000))]).stream() }
    ]
    let last: CID | undefined
    await createDirectoryEncoderStream(files as any).pipeTo(new WritableStream({ write (block: any) { last = block.cid } }))
    const stream = createDirectoryEncoderStream(files as any).pipeThrough(new CAREncoderStream([last as any]))
    const result = await wb.importCar(stream as unknown as AsyncIterable<Uint8Array>)
    expect(result.roots[0].equals(last as CID)).toBe(true)
    expect(await wb.isPinned(last as CID)).toBe(true)
    const names: string[] = []
    for await (const e of wb.ls(last as CID)) names.push(e.name)
    expect(names).toEqual(['pack'])
    expect(await text(wb.cat(`${(last as CID).toString()}/pack/hello.txt`))).toBe('hello from ipfs-car')
  })

  it('a dag-cbor root linking raw blocks: checked, pinned, refs listed', async () => {
    const leaf = await rawBlock(Buffer.from('cbor leaf'))
    const value = { name: 'dataset', parts: [leaf.cid] }
    const bytes = dagCbor.encode(value)
    const cborRoot = CID.createV1(dagCbor.code, await sha256.digest(bytes))
    await wb.importCar(await carOf([cborRoot], [{ cid: cborRoot, bytes }, leaf]))
    expect(await wb.isPinned(cborRoot)).toBe(true)
    // the pin holds the linked block: gc keeps it
    await wb.gc()
    expect(Buffer.from(await wb.blockGet(leaf.cid, { offline: true })).toString()).toBe('cbor leaf')
    const refs: string[] = []
    for await (const r of wb.refs(cborRoot, { recursive: true })) refs.push(r.toString())
    expect(refs).toEqual([leaf.cid.toString()])
  })
})

describe('importCar with pin: false', () => {
  it('stores the blocks unpinned: readable, and the next gc takes them back', async () => {
    const leaf = await rawBlock(Buffer.from('an unpinned leaf'))
    const result = await wb.importCar(await carOf([leaf.cid], [leaf]), { pin: false })
    expect(result.roots.map(String)).toEqual([leaf.cid.toString()])
    expect(await wb.isPinned(leaf.cid)).toBe(false)
    expect(Buffer.from(await wb.blockGet(leaf.cid, { offline: true })).toString()).toBe('an unpinned leaf')
    await wb.gc()
    await expect(wb.blockStat(leaf.cid, { offline: true })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  })
})

describe('importCar: a failure leaves nothing counted', () => {
  async function expectNothingLeft (run: () => Promise<unknown>, match: Record<string, unknown>): Promise<void> {
    const before = (await b.stats()).usedBytes
    const pins = (await wb.pins()).length
    await expect(run()).rejects.toMatchObject(match)
    expect((await b.stats()).usedBytes).toBe(before)
    expect((await wb.pins()).length).toBe(pins)
  }

  it('garbage: InvalidCarError', async () => {
    await expectNothingLeft(async () => wb.importCar(Buffer.from('this is not a CAR file at all')), { name: 'InvalidCarError', code: 'ERR_INVALID_CAR' })
  })

  it('truncated in the middle of a block: InvalidCarError, the blocks before it removed', async () => {
    const blocks = await Promise.all([1, 2, 3].map(async i => rawBlock(bytesOf(`trunc-${i}`, 100_000))))
    const car = await carOf([blocks[0].cid], blocks)
    await expectNothingLeft(async () => wb.importCar(car.subarray(0, car.byteLength - 50_000)), { code: 'ERR_INVALID_CAR' })
  })

  it('a block that does not match its CID: BlockVerificationError', async () => {
    const good = await rawBlock(bytesOf('good', 50_000))
    const bad = await rawBlock(bytesOf('bad', 50_000))
    const car = await carOf([good.cid], [good, { cid: bad.cid, bytes: bytesOf('tampered', 50_000) }])
    await expectNothingLeft(async () => wb.importCar(car), { name: 'BlockVerificationError', code: 'ERR_BLOCK_VERIFICATION' })
  })

  it('over the quota: QuotaExceededError', async () => {
    const blocks = await Promise.all(Array.from({ length: 12 }, async (_, i) => rawBlock(bytesOf(`big-${i}`, 500_000))))
    const car = await carOf([blocks[0].cid], blocks)
    await expectNothingLeft(async () => wb.importCar(car), { code: 'ERR_QUOTA_EXCEEDED' })
  })

  it('a root whose DAG is not in the CAR: InvalidCarError', async () => {
    const leaf = await rawBlock(Buffer.from('never sent'))
    const bytes = dagCbor.encode({ link: leaf.cid })
    const cborRoot = CID.createV1(dagCbor.code, await sha256.digest(bytes))
    await expectNothingLeft(async () => wb.importCar(await carOf([cborRoot], [{ cid: cborRoot, bytes }])), { code: 'ERR_INVALID_CAR' })
  })
})
