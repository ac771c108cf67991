/**
 * Local block reads with an expected size (a leaf's Tsize): one read of that size plus one
 * byte, and the right bytes whatever the hint says (exact, too small, too large, missing).
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBlockLayout } from '../src/blockstore/block-layout.js'
import type { BlockLayout } from '../src/blockstore/block-layout.js'

describe('BlockLayout.read with expectedSize', () => {
  let dir: string
  let layout: BlockLayout
  let cid: CID
  const bytes = randomBytes(262158)
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sized-read-'))
    layout = createBlockLayout({ directory: dir })
    cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await layout.write(cid, bytes)
  })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  for (const [what, expectedSize] of [['exact', 262158], ['too small', 1000], ['zero', 0], ['too large', 300000], ['far too large', 4 * 1024 * 1024]] as const) {
    it(`${what}: the whole block`, async () => {
      const got = await layout.read(cid, { expectedSize })
      expect(got).toBeDefined()
      expect(Buffer.compare(Buffer.from(got as Uint8Array), bytes)).toBe(0)
    })
  }

  it('a missing block is undefined, an aborted read rejects', async () => {
    const missing = CID.createV1(raw.code, await sha256.digest(Buffer.from('missing')))
    expect(await layout.read(missing, { expectedSize: 10 })).toBeUndefined()
    await expect(layout.read(cid, { expectedSize: 262158, signal: AbortSignal.abort() })).rejects.toThrow()
  })
})

describe('BlockLayout.readBatched (small blocks through the fs read worker)', () => {
  let dir: string
  let layout: BlockLayout
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'batched-read-'))
    layout = createBlockLayout({ directory: dir })
    // small ones (the worker), one at the limit, a large one (libuv's pool)
    for (const size of [0, 1, 4096, 4096, 64 * 1024, 64 * 1024 + 1, 262158]) {
      const bytes = randomBytes(size)
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      await layout.write(cid, bytes)
      blocks.push({ cid, bytes })
    }
  })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('reads many at once, with or without a size hint (right, too small, too large)', async () => {
    for (const hint of [undefined, 'exact', 'small', 'large'] as const) {
      const got = await Promise.all(blocks.map(async ({ cid, bytes }) => {
        const expectedSize = hint === 'exact' ? bytes.byteLength : hint === 'small' ? Math.max(0, bytes.byteLength - 7) : hint === 'large' ? bytes.byteLength * 2 + 10 : undefined
        return layout.readBatched(cid, { expectedSize })
      }))
      got.forEach((g, i) => { expect(Buffer.compare(Buffer.from(g as Uint8Array), blocks[i].bytes), `${hint ?? 'no hint'} #${i}`).toBe(0) })
    }
  })

  it('a missing block is undefined; an unreadable one rejects with the fs error', async () => {
    const missing = CID.createV1(raw.code, await sha256.digest(Buffer.from('missing')))
    expect(await layout.readBatched(missing)).toBeUndefined()
    expect(await layout.readBatched(missing, { expectedSize: 10 })).toBeUndefined()
    // a directory where the block file should be
    const odd = CID.createV1(raw.code, await sha256.digest(Buffer.from('a folder')))
    await mkdir(layout.pathOf(odd), { recursive: true })
    await expect(layout.readBatched(odd, { expectedSize: 10 })).rejects.toHaveProperty('code', 'EISDIR')
  })
})
