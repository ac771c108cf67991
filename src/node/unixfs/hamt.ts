/**
 * UnixFS HAMT shards, as ipfs-unixfs-importer and Kubo build them: 256-way
 * fanout, murmur3-x64-64 of the name (its bytes read first byte first, one
 * byte per level; past 8 levels the name with the level's block index
 * appended is hashed again), an entry sits at the shallowest level where its
 * slot holds no other name. A slot holding one name links it as
 * `<slot in 2 upper-case hex digits><name>`, a slot holding several links a
 * sub-shard as `<slot>`. The node's data is the bitfield of used slots
 * (big-endian, leading zero bytes dropped), fanout 256, hash type 0x22; the
 * shard root carries the directory's mode and mtime.
 *
 * The structure depends only on the set of names, not the order they came
 * in, so the shard is built at once from the directory's finished links.
 *
 * Memory: the links are read through `ShardLinks` (the directory's own
 * compact arrays, dir-tree.ts), never copied into objects; the first 8 hash
 * bytes of every name sit in one packed buffer; a link's CID is decoded only
 * while its node is encoded.
 */
import * as dagPb from '@ipld/dag-pb'
import { murmur364 } from '@multiformats/murmur3'
import { UnixFS } from 'ipfs-unixfs'
import { awaitedLater } from '../../util/promise.js'
import { release, releasable } from '../../util/releasable.js'
import type { Mtime } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'

const FANOUT = 256
const HASH_TYPE = 0x22n

/** The links of the directory being sharded (names unique), read by index. */
export interface ShardLinks {
  readonly length: number
  name(i: number): string
  cid(i: number): CID
  tsize(i: number): number
}

/** A plain array of links as ShardLinks. */
export function shardLinks (links: Array<{ name: string, cid: CID, tsize: number }>): ShardLinks {
  return {
    length: links.length,
    name: (i) => links[i].name,
    cid: (i) => links[i].cid,
    tsize: (i) => links[i].tsize
  }
}

/** Writes one encoded node and returns its CID. */
export type PutNode = (bytes: Uint8Array) => Promise<CID>

/**
 * Where a shard's nodes go: `cid` names a node synchronously (its hash), `write` stores it.
 * The writes are started as the nodes are encoded and awaited a window at a time, so the
 * many small nodes of a big shard (a 100,000-name folder has ~30,000) go to the blockstore
 * together instead of one round trip each, and no node's links stay alive across a write.
 */
export interface NodeSink {
  cid(bytes: Uint8Array): CID
  write(cid: CID, bytes: Uint8Array): Promise<void>
}

/** Node writes in flight at most while a shard is built. */
const WRITE_WINDOW = 128

function murmur64 (bytes: Uint8Array): Uint8Array {
  const digest = murmur364.digest(bytes)
  if (digest instanceof Promise) throw new Error('murmur3 hashes synchronously')
  return digest.digest
}

/**
 * Hash bytes of each name: the first 8 (levels 0-7) of every name packed in one buffer,
 * computed at once; the deeper 8-byte blocks (names that share 8 levels: rare) when a level
 * needs them.
 */
class NameHashes {
  private readonly first: Uint8Array
  private readonly deeper = new Map<number, Uint8Array>()
  private readonly links: ShardLinks

  constructor (links: ShardLinks) {
    this.links = links
    this.first = releasable(Uint8Array, links.length * 8)
    for (let i = 0; i < links.length; i++) this.first.set(murmur64(Buffer.from(links.name(i), 'utf8')), i * 8)
  }

  slot (i: number, depth: number): number {
    const block = depth >> 3
    if (block === 0) return this.first[i * 8 + depth]
    const key = i * 64 + block
    let hash = this.deeper.get(key)
    if (hash == null) {
      hash = murmur64(Buffer.concat([Buffer.from(this.links.name(i), 'utf8'), Uint8Array.of(block)]))
      this.deeper.set(key, hash)
    }
    return hash[depth & 7]
  }

  /** Frees the packed hashes at once (util/releasable.ts). */
  release (): void {
    release(this.first)
    this.deeper.clear()
  }
}

function bitfield (slots: number[]): Uint8Array {
  const le = new Uint8Array(FANOUT / 8)
  for (const s of slots) le[s >> 3] |= 1 << (s & 7)
  let end = le.length
  while (end > 1 && le[end - 1] === 0) end--
  return le.subarray(0, end).reverse()
}

const LABELS = Array.from({ length: FANOUT }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'))

export interface ShardOptions {
  mode?: number
  mtime?: Mtime
}

/**
 * Builds the shard of `links` (names unique), writing every node through
 * `sink`, deepest first (at most WRITE_WINDOW writes in flight). Resolves
 * the root's CID and its Tsize once every node is written; a failed write
 * rejects (after the other writes in flight settled).
 */
export async function buildShard (links: ShardLinks, sink: NodeSink, options: ShardOptions = {}): Promise<{ cid: CID, tsize: number }> {
  const hashes = new NameHashes(links)
  const all = Array.from({ length: links.length }, (_, i) => i)
  let writes: Array<Promise<void>> = []

  const settle = async (): Promise<void> => {
    const batch = writes
    writes = []
    const results = await Promise.allSettled(batch)
    for (const r of results) if (r.status === 'rejected') throw r.reason
  }

  const build = async (members: number[], depth: number, root: boolean): Promise<{ cid: CID, tsize: number }> => {
    if (depth > 64) throw new Error('HAMT deeper than 64 levels: names collide')
    const bySlot = new Map<number, number[]>()
    for (const i of members) {
      const s = hashes.slot(i, depth)
      const list = bySlot.get(s)
      if (list == null) bySlot.set(s, [i])
      else list.push(i)
    }
    const slots = [...bySlot.keys()].sort((a, b) => a - b)
    // the sub-shards first (their writes join the window), then this node's links at once
    const subs = new Map<number, { cid: CID, tsize: number }>()
    for (const s of slots) {
      const inSlot = bySlot.get(s) as number[]
      if (inSlot.length > 1) subs.set(s, await build(inSlot, depth + 1, false))
    }
    const pbLinks: dagPb.PBLink[] = []
    let childBytes = 0
    for (const s of slots) {
      const sub = subs.get(s)
      if (sub == null) {
        const i = (bySlot.get(s) as number[])[0]
        const tsize = links.tsize(i)
        pbLinks.push({ Name: LABELS[s] + links.name(i), Tsize: tsize, Hash: links.cid(i) })
        childBytes += tsize
      } else {
        pbLinks.push({ Name: LABELS[s], Tsize: sub.tsize, Hash: sub.cid })
        childBytes += sub.tsize
      }
    }
    const data = new UnixFS({
      type: 'hamt-sharded-directory',
      data: bitfield(slots),
      fanout: BigInt(FANOUT),
      hashType: HASH_TYPE,
      mode: root ? options.mode : undefined,
      mtime: root ? options.mtime : undefined
    })
    const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: pbLinks }))
    const cid = sink.cid(bytes)
    const written = sink.write(cid, bytes)
    awaitedLater(written) // observed by settle()
    writes.push(written)
    if (writes.length >= WRITE_WINDOW) await settle()
    return { cid, tsize: bytes.byteLength + childBytes }
  }

  try {
    const root = await build(all, 0, true)
    await settle()
    return root
  } catch (err) {
    // no write outlives the build
    await Promise.allSettled(writes)
    throw err
  } finally {
    hashes.release()
  }
}
