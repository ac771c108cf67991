/**
 * Local block reads with an expected size (a leaf's Tsize): one read of that size plus one
 * byte, and the right bytes whatever the hint says (exact, too small, too large, missing).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
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
