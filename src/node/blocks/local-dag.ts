/**
 * A walk over a DAG stored locally (never the network): every block once,
 * and the UnixFS content size on the way (a file's size, or for a
 * directory the sizes of all files under it, a file linked twice counted
 * twice, as a listing would show it).
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { ContentNotFoundError } from '../../errors.js'
import { collect, mhKey } from '../dag.js'
import { blockLinks } from './codecs.js'
import type { ContentComponents } from './components.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const RAW = 0x55

export interface LocalDag {
  /** Every block of the DAG, each once, the root first. */
  blocks: CID[]
  /** UnixFS content bytes (0 for what is not UnixFS). */
  size: number
}

interface Item { cid: CID, inFile: boolean }

/** @throws {ContentNotFoundError} naming the first block not stored locally */
export async function localDag (components: Pick<ContentComponents, 'local'>, root: CID, options: AbortOptions = {}): Promise<LocalDag> {
  const { local } = components
  const seen = new Set<string>()
  /** content size of each file root already met */
  const fileSize = new Map<string, number>()
  const blocks: CID[] = []
  let size = 0
  const stack: Item[] = [{ cid: root, inFile: false }]
  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const { cid, inFile } = stack.pop() as Item
    const k = mhKey(cid)
    if (seen.has(k)) {
      if (!inFile) size += fileSize.get(k) ?? 0
      continue
    }
    seen.add(k)
    if (cid.multihash.code === 0x00) continue // identity: the bytes are in the CID
    if (!await local.has(cid, options)) throw new ContentNotFoundError(`Block ${cid} of ${root} is not stored locally`)
    const bytes = await collect(local.get(cid, options) as AsyncIterable<Uint8Array>)
    blocks.push(cid)
    let childrenInFile = true
    if (!inFile) {
      if (cid.code === RAW) {
        size += bytes.byteLength
        fileSize.set(k, bytes.byteLength)
      } else if (cid.code === dagPb.code) {
        const node = dagPb.decode(bytes)
        const unixfs = node.Data != null ? tryUnixfs(node.Data) : undefined
        if (unixfs?.isDirectory() === true) {
          childrenInFile = false
        } else if (unixfs != null && (unixfs.type === 'file' || unixfs.type === 'raw')) {
          const n = Number(unixfs.fileSize())
          size += n
          fileSize.set(k, n)
        }
      }
    }
    const links = blockLinks(cid, bytes)
    for (let i = links.length - 1; i >= 0; i--) stack.push({ cid: links[i], inFile: childrenInFile })
  }
  return { blocks, size }
}

function tryUnixfs (data: Uint8Array): UnixFS | undefined {
  try {
    return UnixFS.unmarshal(data)
  } catch {
    return undefined // a dag-pb node that is not UnixFS: no content size
  }
}

/** The bytes of all files under a UnixFS directory stored locally; undefined when `root` is not one. */
export async function directorySize (local: Pick<ContentComponents['local'], 'has' | 'get'>, root: CID, options: AbortOptions = {}): Promise<number | undefined> {
  if (root.code !== dagPb.code || !await local.has(root, options)) return undefined
  const node = dagPb.decode(await collect(local.get(root, options) as AsyncIterable<Uint8Array>))
  if (node.Data == null || tryUnixfs(node.Data)?.isDirectory() !== true) return undefined
  return (await localDag({ local: local as ContentComponents['local'] }, root, options)).size
}

/**
 * The UnixFS content size of a DAG from its blocks as they arrive, parents
 * before children (the order a pin receives them in): the same number as
 * `localDag().size` (a file linked twice counted twice), without reading any
 * block back. Only the blocks that are the root or an entry of a directory
 * are decoded; a file's inner blocks are passed over. Memory: the entries
 * announced and not yet received, and the size of each file met.
 */
export class StreamedDagSize {
  /** entries linked but not received yet, and how many times they are linked */
  private readonly pending = new Map<string, number>()
  /** content size of each entry already received */
  private readonly known = new Map<string, number>()
  private total = 0

  constructor (root: CID) {
    this.pending.set(mhKey(root), 1)
  }

  /** A block of the DAG, with its links (each block once). */
  add (cid: CID, bytes: Uint8Array): void {
    const k = mhKey(cid)
    const times = this.pending.get(k)
    if (times == null) return
    this.pending.delete(k)
    let n = 0
    if (cid.code === RAW) {
      n = bytes.byteLength
    } else if (cid.code === dagPb.code) {
      const node = dagPb.decode(bytes)
      const unixfs = node.Data != null ? tryUnixfs(node.Data) : undefined
      if (unixfs?.isDirectory() === true) {
        for (const link of node.Links) {
          const lk = mhKey(link.Hash)
          const size = this.known.get(lk)
          if (size != null) this.total += size
          else this.pending.set(lk, (this.pending.get(lk) ?? 0) + 1)
        }
      } else if (unixfs != null && (unixfs.type === 'file' || unixfs.type === 'raw')) {
        n = Number(unixfs.fileSize())
      }
    }
    this.known.set(k, n)
    this.total += n * times
  }

  /** The size, once every entry was received; undefined while some are missing. */
  get size (): number | undefined {
    return this.pending.size === 0 ? this.total : undefined
  }
}
