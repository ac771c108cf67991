/**
 * The receive side's block writer (src/node/transfer/writer.ts): with a store that says whether a
 * put stored the block (`putNew`) no block is checked with has() first and `fetched` is what the
 * store said; `room()` waits while `maxBlocks` blocks are queued or being written.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { BlockWriter } from '../src/node/transfer/writer.js'

async function block (i: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(`block ${i}`)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** A store holding blocks by CID string whose puts wait until `release()`. */
function heldStore (present: Set<string>): { store: ConstructorParameters<typeof BlockWriter>[0]['blockstore'], has: number, release: () => void } {
  const waiting: Array<() => void> = []
  const state = {
    has: 0,
    release: () => { for (const w of waiting.splice(0)) w() },
    store: {
      has: async () => { state.has++; return false },
      putMany: () => { throw new Error('putMany must not be used with putNew') },
      putNew: async (cid: CID) => {
        await new Promise<void>(resolve => { waiting.push(resolve) })
        if (present.has(cid.toString())) return false
        present.add(cid.toString())
        return true
      }
    }
  }
  return state
}

describe('BlockWriter', () => {
  it('with putNew: no has(), fetched as the store says, room() bounded by maxBlocks', async () => {
    const blocks = await Promise.all(Array.from({ length: 10 }, async (_, i) => block(i)))
    const present = new Set([blocks[3].cid.toString()])
    const held = heldStore(present)
    const writer = new BlockWriter({ blockstore: held.store, maxBlocks: 4, maxBatch: 2, signal: new AbortController().signal })
    const fetched = new Map<string, boolean>()
    for (const b of blocks.slice(0, 4)) writer.write(b.cid, b.bytes, false, (f, err) => { expect(err).toBeUndefined(); fetched.set(b.cid.toString(), f) })
    let roomy = false
    const room = writer.room().then(() => { roomy = true })
    await new Promise(resolve => setImmediate(resolve))
    expect(roomy).toBe(false)
    held.release()
    await room
    for (const b of blocks.slice(4)) writer.write(b.cid, b.bytes, false, (f) => { fetched.set(b.cid.toString(), f) })
    while (fetched.size < blocks.length) {
      held.release()
      await new Promise(resolve => setImmediate(resolve))
    }
    await writer.drain()
    expect(held.has).toBe(0)
    expect(blocks.map(b => fetched.get(b.cid.toString()))).toEqual(blocks.map((_, i) => i !== 3))
  })
})
