/**
 * The holder's block reads (src/node/transfer/read-block.ts): a leaf whose link gave its size is
 * read on the fs read worker in one read of that size; whatever the size says (exact, too small,
 * too large, none, a block larger than the worker takes) the bytes are the block's, and a block
 * that is not stored is undefined.
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
import { createBlockFileReader } from '../src/node/transfer/read-block.js'
import type { ReadBlock } from '../src/node/transfer/read-block.js'

describe('the transfer holder reads blocks straight from their files', () => {
  let dir: string
  let read: ReadBlock
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'transfer-read-'))
    const layout = createBlockLayout({ directory: dir })
    read = createBlockFileReader(layout)
    for (const size of [262158, 1000, 2 * 1024 * 1024]) {
      const bytes = randomBytes(size)
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      await layout.write(cid, bytes)
      blocks.push({ cid, bytes })
    }
  })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('the block whatever its size hint says', async () => {
    const hints = (n: number): Array<number | undefined> => [n, undefined, 0, Math.floor(n / 2), n + 1, n * 3]
    // all at once: the reads of one turn go to the worker together
    const reads = blocks.flatMap(b => hints(b.bytes.byteLength).map(async hint => ({ b, hint, got: await read(b.cid, hint) })))
    for (const { b, hint, got } of await Promise.all(reads)) {
      expect(got, `size ${b.bytes.byteLength}, hint ${String(hint)}`).toBeDefined()
      expect(Buffer.compare(Buffer.from(got as Uint8Array), b.bytes), `size ${b.bytes.byteLength}, hint ${String(hint)}`).toBe(0)
    }
  })

  it('a block not stored is undefined', async () => {
    const missing = CID.createV1(raw.code, await sha256.digest(Buffer.from('missing')))
    expect(await read(missing, 262158)).toBeUndefined()
    expect(await read(missing)).toBeUndefined()
  })
})
