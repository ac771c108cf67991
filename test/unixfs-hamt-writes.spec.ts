/**
 * How a HAMT's nodes are written (src/node/unixfs/hamt.ts buildShard): every node is handed to
 * the sink before the build resolves, a parent after every sub-shard it links, no more than the
 * window of writes in flight at once (a 100,000-name folder has ~30,000 nodes: they go to the
 * blockstore together, not one round trip each), and a failed write rejects the build only once
 * no other write is still in flight.
 */
import { createHash } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { describe, expect, it } from 'vitest'
import { buildShard, shardLinks } from '../src/node/unixfs/hamt.js'
import type { NodeSink } from '../src/node/unixfs/hamt.js'

const cidOf = (bytes: Uint8Array): CID => CID.createV0(Digest.create(0x12, createHash('sha256').update(bytes).digest()))

const links = Array.from({ length: 5000 }, (_, i) => {
  const name = `file-${i}.bin`
  return { name, cid: cidOf(Buffer.from(name)), tsize: 100 + i }
})

interface Recorder { sink: NodeSink, written: Set<string>, maxInFlight: () => number, inFlight: () => number, order: string[] }

function recorder (fail?: (n: number) => boolean): Recorder {
  const written = new Set<string>()
  const order: string[] = []
  let inFlight = 0
  let max = 0
  let n = 0
  return {
    written,
    order,
    maxInFlight: () => max,
    inFlight: () => inFlight,
    sink: {
      cid: cidOf,
      async write (cid, bytes) {
        const k = n++
        // a parent names only nodes handed over before it
        for (const link of dagPb.decode(bytes).Links) {
          const child = link.Hash.toString()
          if (link.Name != null && link.Name.length === 2) expect(order.includes(child), `child ${child} written before its parent`).toBe(true)
        }
        order.push(cid.toString())
        inFlight++
        max = Math.max(max, inFlight)
        try {
          await new Promise(resolve => setTimeout(resolve, k % 7))
          if (fail?.(k) === true) throw Object.assign(new Error('disk said no'), { code: 'EIO' })
          written.add(cid.toString())
        } finally {
          inFlight--
        }
      }
    }
  }
}

describe('buildShard writes', () => {
  it('writes every node, children before parents, a bounded window at once, the same root whatever the timing', async () => {
    const a = recorder()
    const root = await buildShard(shardLinks(links), a.sink)
    expect(a.inFlight()).toBe(0)
    expect(a.written.size).toBe(a.order.length)
    expect(a.written.has(root.cid.toString())).toBe(true)
    expect(a.order.at(-1)).toBe(root.cid.toString())
    expect(a.maxInFlight()).toBeGreaterThan(1)
    expect(a.maxInFlight()).toBeLessThanOrEqual(128)
    // writes that resolve at once give the same shard
    const b: NodeSink = { cid: cidOf, write: async () => {} }
    expect((await buildShard(shardLinks(links), b)).cid.toString()).toBe(root.cid.toString())
  })

  it('a failed write rejects the build with its error once no write is in flight', async () => {
    const r = recorder(k => k === 150)
    await expect(buildShard(shardLinks(links), r.sink)).rejects.toMatchObject({ code: 'EIO' })
    expect(r.inFlight()).toBe(0)
  })
})
