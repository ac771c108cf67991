/**
 * Leaves encoded in place around chunks read by readFileChunks (no copy of the file bytes):
 * the same CIDs and the same block bytes as ipfs-unixfs-importer, for both profiles and sizes
 * around the chunk size; blocks stored are whole dag-pb leaves.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core'
import { importer } from 'ipfs-unixfs-importer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeLeaf, importFile, layoutFor, readFileChunks } from '../src/node/import/index.js'
import { allocChunk, HEADROOM } from '../src/node/import/headroom.js'
import { importerOptions } from '../src/node/profiles.js'
import type { AddOptions } from '../src/node/index.js'
import type { CID } from 'multiformats/cid'

const C = 262144

async function reference (bytes: Uint8Array, options: AddOptions, store = new MemoryBlockstore()): Promise<CID> {
  let cid: CID | undefined
  for await (const e of importer([{ content: [bytes] }], store, importerOptions(options))) cid = e.cid
  return cid as CID
}

async function collect (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of source) parts.push(c)
  return Buffer.concat(parts)
}

describe('in-place leaf encoding', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'inplace-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  for (const profile of ['kubo', 'cidv1'] as const) {
    for (const size of [0, 1, 1000, C - 1, C, C + 1, 3 * C + 7, 20 * C]) {
      it(`${profile}, ${size} bytes: same CID and blocks as ipfs-unixfs-importer`, async () => {
        const bytes = randomBytes(size)
        const file = join(dir, `${profile}-${size}`)
        await writeFile(file, bytes)
        const handle = await open(file)
        const store = new MemoryBlockstore()
        try {
          const layout = layoutFor({ profile })
          const r = await importFile(readFileChunks(handle, layout.chunkSize), store, { layout })
          const refStore = new MemoryBlockstore()
          const ref = await reference(bytes, { profile }, refStore)
          expect(r.cid.toString()).toBe(ref.toString())
          for await (const { cid, bytes: b } of refStore.getAll()) {
            expect(Buffer.compare(await collect(store.get(cid)), await collect(b))).toBe(0)
          }
        } finally {
          await handle.close()
        }
      })
    }
  }

  it('writes only inside the chunk buffer, and copies a chunk that has no room', () => {
    const layout = layoutFor({ profile: 'kubo' })
    const chunk = allocChunk(1000)
    chunk.fill(7)
    const before = new Uint8Array(chunk.buffer, 0, HEADROOM).slice()
    const leaf = encodeLeaf(chunk, layout)
    expect(leaf.bytes.buffer).toBe(chunk.buffer)
    expect(leaf.bytes.byteOffset).toBeGreaterThanOrEqual(0)
    expect(leaf.bytes.byteOffset + leaf.bytes.byteLength).toBeLessThanOrEqual(chunk.buffer.byteLength)
    expect(before.byteLength).toBe(HEADROOM)
    // an ordinary buffer (maybe shared with other data) is never written outside its view
    const shared = Buffer.alloc(3000, 9)
    const view = shared.subarray(1000, 2000)
    const copy = encodeLeaf(view, layout)
    expect(copy.bytes.buffer).not.toBe(shared.buffer)
    expect(shared.every(b => b === 9)).toBe(true)
    // the same chunk is encoded in place once only
    const again = encodeLeaf(chunk, layout)
    expect(again.bytes.buffer).not.toBe(chunk.buffer)
  })
})
