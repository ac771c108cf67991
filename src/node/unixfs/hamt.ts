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
 */
import * as dagPb from '@ipld/dag-pb'
import { murmur364 } from '@multiformats/murmur3'
import { UnixFS } from 'ipfs-unixfs'
import type { Mtime } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'

const FANOUT = 256
const HASH_TYPE = 0x22n

/** One link of the directory being sharded. */
export interface ShardLink {
  name: string
  cid: CID
  tsize: number
}

/** Writes one encoded shard node and returns its CID. */
export type PutNode = (bytes: Uint8Array) => Promise<CID>

function murmur64 (bytes: Uint8Array): Uint8Array {
  const digest = murmur364.digest(bytes)
  if (digest instanceof Promise) throw new Error('murmur3 hashes synchronously')
  return digest.digest
}

/** Hash bytes of each name, one 8-byte block per 8 levels (computed when a level needs it). */
class NameHashes {
  private readonly blocks: Array<Array<Uint8Array | undefined>> = []
  private readonly names: Uint8Array[]

  constructor (links: ShardLink[]) {
    this.names = links.map(l => Buffer.from(l.name, 'utf8'))
  }

  slot (i: number, depth: number): number {
    const block = depth >> 3
    const row = (this.blocks[i] ??= [])
    let hash = row[block]
    if (hash == null) {
      const name = this.names[i]
      hash = murmur64(block === 0 ? name : Buffer.concat([name, Uint8Array.of(block)]))
      row[block] = hash
    }
    return hash[depth & 7]
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
 * `put`, deepest first. Resolves the root's CID and its Tsize.
 */
export async function buildShard (links: ShardLink[], put: PutNode, options: ShardOptions = {}): Promise<{ cid: CID, tsize: number }> {
  const hashes = new NameHashes(links)
  const all = links.map((_, i) => i)

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
    const pbLinks: dagPb.PBLink[] = []
    let childBytes = 0
    for (const s of slots) {
      const inSlot = bySlot.get(s) as number[]
      if (inSlot.length === 1) {
        const link = links[inSlot[0]]
        pbLinks.push({ Name: LABELS[s] + link.name, Tsize: link.tsize, Hash: link.cid })
        childBytes += link.tsize
      } else {
        const sub = await build(inSlot, depth + 1, false)
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
    return { cid: await put(bytes), tsize: bytes.byteLength + childBytes }
  }

  return build(all, 0, true)
}
