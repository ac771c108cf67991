/**
 * The leaves of a file read on the leaf workers (src/node/export/leaf-worker.ts): the bytes
 * of dag-pb-leaf and raw-leaf files, whole and in ranges, to a file and as a stream; one-block
 * files and identity (inline) CIDs; a damaged block file is a CorruptBlockError (from the
 * workers and from the main thread); a missing leaf is read through the fallback; what the
 * workers read is recorded for gc; an aborted or failed `get` leaves nothing behind (`verify()`
 * repairing the damaged block is node-storage.spec.ts).
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBlockLayout } from '../src/blockstore/block-layout.js'
import { createLocalFirstBlockReader, resolveFile } from '../src/node/export/index.js'
import { importFile, layoutFor } from '../src/node/import/index.js'
import { createStorageNode } from '../src/node/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'
import type { BlockLayout } from '../src/blockstore/block-layout.js'
import type { StorageNode, WorkspaceNode } from '../src/node/index.js'

const KiB = 1024
const MiB = 1024 * KiB

async function collectBytes (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of source) chunks.push(c)
  return Buffer.concat(chunks)
}

/** The CIDs of a file's leaves (its DAG walked through the layout's files). */
async function leavesOf (layout: BlockLayout, cid: CID): Promise<CID[]> {
  if (cid.code === raw.code) return [cid]
  const node = dagPb.decode(await readFile(layout.pathOf(cid)))
  if (node.Links.length === 0) return [cid]
  const out: CID[] = []
  for (const l of node.Links) out.push(...await leavesOf(layout, l.Hash))
  return out
}

async function flipByte (file: string, at: number): Promise<void> {
  const bytes = await readFile(file)
  bytes[Math.min(at, bytes.length - 1)] ^= 0xff
  await writeFile(file, bytes)
}

/** The block file of `cid` somewhere under `storagePath` (a node's storage root). */
async function blockFileUnder (storagePath: string, cid: CID): Promise<string> {
  const rel = createBlockLayout({ directory: '/' }).pathOf(cid).split('/').slice(-2).join('/')
  const found = (await readdir(storagePath, { recursive: true })).find(f => f.endsWith(rel))
  if (found == null) throw new Error(`no block file for ${cid}`)
  return join(storagePath, found)
}

/** A folder `d` of one small file `d/a.txt` added to `ws`, its CIDs, and that file's one block damaged in place. */
async function damagedFolder (ws: WorkspaceNode, storagePath: string): Promise<{ folder: CID, text: Buffer }> {
  const text = Buffer.from('hello from a folder, byte by byte\n'.repeat(40))
  let folder: CID | undefined
  let file: CID | undefined
  for await (const e of ws.addAll([{ path: 'd/a.txt', content: text }])) {
    if (e.path === 'd') folder = e.cid
    if (e.path === 'd/a.txt') file = e.cid
  }
  if (folder == null || file == null) throw new Error('folder not added')
  await flipByte(await blockFileUnder(storagePath, file), text.length - 10)
  return { folder, text }
}

describe('file export through the leaf workers', () => {
  let dir: string
  let layout: BlockLayout
  const files: Record<string, { cid: CID, bytes: Buffer }> = {}
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'export-leaves-'))
    layout = createBlockLayout({ directory: join(dir, 'blocks') })
    const store = layout.createFsBlockstore()
    await store.open()
    for (const [name, profile, size] of [['dag-pb leaves', 'kubo', 5 * MiB + 777], ['raw leaves', 'cidv1', 3 * MiB + 12_345], ['one dag-pb block', 'kubo', 1000], ['one raw block', 'cidv1', 200 * KiB]] as const) {
      const bytes = randomBytes(size)
      const r = await importFile([bytes], store, { layout: layoutFor({ profile }) })
      files[name] = { cid: r.cid, bytes }
    }
  })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  /** A reader over the layout that counts main-thread reads and records what is read. */
  function reader (fallback?: (cid: CID) => Promise<Uint8Array>): { reader: ReturnType<typeof createLocalFirstBlockReader>, mainReads: CID[], recorded: Set<string> } {
    const mainReads: CID[] = []
    const recorded = new Set<string>()
    return {
      reader: createLocalFirstBlockReader({
        layout: { pathOf: (c) => layout.pathOf(c), readBatched: async (c, o) => { mainReads.push(c); return layout.readBatched(c, o) } },
        onRead: (c) => { recorded.add(c.toString()) },
        fallback: fallback ?? (async (c) => { throw new Error(`no fallback for ${c}`) })
      }),
      mainReads,
      recorded
    }
  }

  for (const name of ['dag-pb leaves', 'raw leaves', 'one dag-pb block', 'one raw block']) {
    it(`${name}: the same bytes to a file and as a stream, whole and in ranges`, async () => {
      const { cid, bytes } = files[name]
      const r = reader()
      const file = await resolveFile(cid, r.reader)
      expect(file.size).toBe(bytes.length)
      const out = join(dir, `${name}.out`)
      let progress = 0
      expect(await file.writeTo(out, { onProgress: (n) => { progress = n } })).toBe(bytes.length)
      expect(progress).toBe(bytes.length)
      expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
      await rm(out)
      expect(Buffer.compare(await collectBytes(file.content()), bytes)).toBe(0)
      for (const [offset, length] of [[0, 1], [256 * KiB - 3, 7], [300_000, MiB + 17], [bytes.length - 5, 100], [1, bytes.length]]) {
        expect(Buffer.compare(await collectBytes(file.content({ offset, length })), bytes.subarray(offset, offset + length)), `${offset}+${length}`).toBe(0)
      }
      // every leaf was recorded for gc; the main thread read the inner nodes only
      const leaves = await leavesOf(layout, cid)
      for (const l of leaves) expect(r.recorded.has(l.toString())).toBe(true)
      if (leaves.length > 1) expect(r.mainReads.filter(c => leaves.some(l => l.equals(c)))).toEqual([])
    })
  }

  it('identity CIDs: an inline root, and an inline leaf beside a stored one', async () => {
    const hello = new TextEncoder().encode('hello, inline')
    const inline = CID.createV1(raw.code, identity.digest(hello))
    const r = reader()
    expect(Buffer.from(await collectBytes((await resolveFile(inline, r.reader)).content())).toString()).toBe('hello, inline')
    const out = join(dir, 'inline.out')
    await (await resolveFile(inline, r.reader)).writeTo(out)
    expect((await readFile(out)).toString()).toBe('hello, inline')
    await rm(out)
    // a parent: the inline leaf, then a stored raw leaf
    const stored = randomBytes(100 * KiB)
    const storedCid = CID.createV1(raw.code, await sha256.digest(stored))
    await layout.write(storedCid, stored)
    const unixfs = new UnixFS({ type: 'file', blockSizes: [BigInt(hello.length), BigInt(stored.length)] })
    const parentBytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: [{ Hash: inline, Tsize: hello.length }, { Hash: storedCid, Tsize: stored.length }] }))
    const parent = CID.createV1(dagPb.code, await sha256.digest(parentBytes))
    await layout.write(parent, parentBytes)
    const file = await resolveFile(parent, r.reader)
    const expected = Buffer.concat([hello, stored])
    expect(Buffer.compare(await collectBytes(file.content()), expected)).toBe(0)
    await file.writeTo(out)
    expect(Buffer.compare(await readFile(out), expected)).toBe(0)
    await rm(out)
  })

  it('a missing leaf file is read through the fallback, the others on the workers', async () => {
    const { bytes } = files['raw leaves']
    // a copy of the file under its own blocks, one leaf file removed
    const copyLayout = createBlockLayout({ directory: join(dir, 'copy') })
    const store = copyLayout.createFsBlockstore()
    await store.open()
    const { cid } = await importFile([bytes], store, { layout: layoutFor({ profile: 'cidv1' }) })
    const leaves = await leavesOf(copyLayout, cid)
    const gone = leaves[2]
    const goneBytes = await readFile(copyLayout.pathOf(gone))
    await rm(copyLayout.pathOf(gone))
    const asked: string[] = []
    const r = createLocalFirstBlockReader({
      layout: copyLayout,
      fallback: async (c) => { asked.push(c.toString()); return goneBytes }
    })
    const file = await resolveFile(cid, r)
    expect(Buffer.compare(await collectBytes(file.content()), bytes)).toBe(0)
    const out = join(dir, 'missing.out')
    await file.writeTo(out)
    expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
    expect(asked).toEqual([gone.toString(), gone.toString()])
  })

  it('a damaged block file is a CorruptBlockError: a leaf (workers), the root (main thread)', async () => {
    for (const [name, profile] of [['dag-pb', 'kubo'], ['raw', 'cidv1']] as const) {
      const damaged = createBlockLayout({ directory: join(dir, `damaged-${name}`) })
      const store = damaged.createFsBlockstore()
      await store.open()
      const { cid } = await importFile([randomBytes(2 * MiB + 5)], store, { layout: layoutFor({ profile }) })
      const leaves = await leavesOf(damaged, cid)
      await flipByte(damaged.pathOf(leaves[leaves.length - 2]), 100)
      const r = createLocalFirstBlockReader({ layout: damaged, fallback: async () => { throw new Error('not asked') } })
      const file = await resolveFile(cid, r)
      await expect(collectBytes(file.content())).rejects.toMatchObject({ name: 'CorruptBlockError', code: 'ERR_CORRUPT_BLOCK', cid: leaves[leaves.length - 2].toString() })
      await expect(file.writeTo(join(dir, `damaged-${name}.out`))).rejects.toMatchObject({ code: 'ERR_CORRUPT_BLOCK' })
      await flipByte(damaged.pathOf(cid), 3)
      await expect(resolveFile(cid, r)).rejects.toMatchObject({ code: 'ERR_CORRUPT_BLOCK', cid: cid.toString() })
    }
  })

  it('an abort stops the workers: the write rejects, the stream ends', async () => {
    const { cid } = files['dag-pb leaves']
    const file = await resolveFile(cid, reader().reader)
    const controller = new AbortController()
    const out = join(dir, 'aborted.out')
    await expect(file.writeTo(out, { signal: controller.signal, onProgress: () => { controller.abort() } })).rejects.toHaveProperty('name', 'AbortError')
    await rm(out)
    const c2 = new AbortController()
    let got = 0
    await expect((async () => {
      for await (const chunk of file.content({ signal: c2.signal })) {
        got += chunk.byteLength
        c2.abort()
      }
    })()).rejects.toHaveProperty('name', 'AbortError')
    expect(got).toBeGreaterThan(0)
  })
})

describe('get and cat of local files on a node', () => {
  let storagePath: string
  let node: StorageNode
  let ws: WorkspaceNode
  beforeAll(async () => {
    storagePath = await mkdtemp(join(tmpdir(), 'export-leaves-node-'))
    node = await createStorageNode({ storagePath, quotaBytes: 256 * MiB, listenAddresses: [] })
    ws = await node.join('leaves', generateSwarmKey())
  })
  afterAll(async () => {
    await node?.stop()
    await rm(storagePath, { recursive: true, force: true })
  })

  it('an aborted get leaves nothing; a damaged leaf fails get (nothing left) and cat with CorruptBlockError', async () => {
    const bytes = randomBytes(6 * MiB + 1)
    const { cid } = await ws.add(bytes)
    const outDir = join(storagePath, 'out')
    await mkdir(outDir)
    const out = join(outDir, 'file.bin')
    const controller = new AbortController()
    await expect(ws.get(cid, out, { signal: controller.signal, onProgress: () => { controller.abort() } })).rejects.toHaveProperty('code', 'ERR_ABORTED')
    expect(await readdir(outDir)).toEqual([])
    await ws.get(cid, out)
    expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
    await rm(out)

    const root = dagPb.decode(await readFile(await blockFileUnder(storagePath, cid)))
    const leaf = root.Links[root.Links.length - 3].Hash
    await flipByte(await blockFileUnder(storagePath, leaf), 1000)
    await expect(ws.get(cid, out)).rejects.toMatchObject({ code: 'ERR_CORRUPT_BLOCK', cid: leaf.toString() })
    expect(existsSync(out)).toBe(false)
    expect(await readdir(outDir)).toEqual([])
    await expect(collectBytes(ws.cat(cid))).rejects.toMatchObject({ code: 'ERR_CORRUPT_BLOCK' })
  })
  it('a damaged block fails a folder get with CorruptBlockError and leaves no folder behind', async () => {
    const { folder } = await damagedFolder(ws, storagePath)
    const out = join(storagePath, 'folder-out')
    await expect(ws.get(folder, out)).rejects.toMatchObject({ code: 'ERR_CORRUPT_BLOCK' })
    expect(existsSync(out)).toBe(false)
    expect((await readdir(storagePath)).filter(f => f.includes('folder-out'))).toEqual([])
  })
})

describe('hashOnRead: false (Kubo\'s default)', () => {
  let storagePath: string
  let node: StorageNode
  let ws: WorkspaceNode
  beforeAll(async () => {
    storagePath = await mkdtemp(join(tmpdir(), 'export-leaves-nohash-'))
    node = await createStorageNode({ storagePath, quotaBytes: 256 * MiB, listenAddresses: [], hashOnRead: false })
    ws = await node.join('leaves-nohash', generateSwarmKey())
  })
  afterAll(async () => {
    await node?.stop()
    await rm(storagePath, { recursive: true, force: true })
  })

  it('get and cat trust the block files: a damaged leaf is handed on as stored (the default fails it: the test above)', async () => {
    const bytes = randomBytes(3 * MiB + 7)
    const { cid } = await ws.add(bytes)
    const out = join(storagePath, 'file.bin')
    await ws.get(cid, out)
    expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
    await rm(out)
    // a leaf's data byte flipped on disk (past the dag-pb header): the same size, other bytes
    const root = dagPb.decode(await readFile(await blockFileUnder(storagePath, cid)))
    const leaf = root.Links[1].Hash
    await flipByte(await blockFileUnder(storagePath, leaf), 1000)
    await ws.get(cid, out)
    const got = await readFile(out)
    expect(got.length).toBe(bytes.length)
    expect(Buffer.compare(got, bytes)).not.toBe(0)
    expect(Buffer.compare(await collectBytes(ws.cat(cid)), got)).toBe(0)
  })

  it('a folder get trusts the block files too: the damaged file is written as stored', async () => {
    const { folder, text } = await damagedFolder(ws, storagePath)
    const out = join(storagePath, 'folder-out')
    await ws.get(folder, out)
    const got = await readFile(join(out, 'a.txt'))
    expect(got.length).toBe(text.length)
    expect(Buffer.compare(got, text)).not.toBe(0)
  })
})
