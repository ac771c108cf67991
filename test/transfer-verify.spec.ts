/**
 * Block verification on the receive side (transfer/client.ts `verified`): both paths, the main
 * thread and the hash worker pool. The worker path only runs by default on 4+ cores, so it is
 * forced here with `workerMinBytes: 0` to keep it tested on a 2-core CI machine too.
 */
import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { verified } from '../src/node/transfer/client.js'

const RAW = 0x55
const rawCid = (bytes: Uint8Array): CID => CID.createV1(RAW, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
const noHasher = (): never => { throw new Error('only sha2-256 blocks here') }

describe('received block verification', () => {
  for (const [name, workerMinBytes] of [['main thread', Infinity], ['hash worker', 0]] as const) {
    it(`${name}: a block that matches its CID comes back intact, a corrupted one is refused`, async () => {
      const block = randomBytes(256 * 1024)
      const expected = Buffer.from(block)
      const cid = rawCid(block)
      // a frame of its own (the worker path transfers and hands back its buffer)
      const good = await verified(cid, new Uint8Array(block), noHasher, workerMinBytes)
      expect(good).toBeDefined()
      expect(Buffer.compare(Buffer.from(good as Uint8Array), expected)).toBe(0)

      const bad = new Uint8Array(expected)
      bad[1000] ^= 1
      expect(await verified(cid, bad, noHasher, workerMinBytes)).toBeUndefined()
    })
  }
})
