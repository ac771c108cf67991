/**
 * Streams a UnixFS file (dag-pb file nodes and raw leaves) in order. Each
 * node's children are read ahead, at most `readAhead` blocks at a time per
 * level, and subtrees outside the requested range are skipped using the
 * nodes' block sizes. Memory stays flat: a few blocks per tree level.
 */
import { setMaxListeners } from 'node:events'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { InvalidArgumentError, StorageError } from '../../errors.js'
import type { BlockReader } from './block-reader.js'
import type { AbortOptions } from '@libp2p/interface'
import { awaitedLater } from '../../util/promise.js'
import type { CID } from 'multiformats/cid'

/** Bytes a dag-pb leaf adds around its data (header and trailer), with room to spare. */
const LEAF_OVERHEAD = 64

export interface FileNode {
  /** File bytes held in this node itself (before its children). */
  data?: Uint8Array
  /** Children in file order with the file bytes under each, and the bytes of its DAG (the link's Tsize). */
  children: Array<{ cid: CID, size: number, dagSize?: number }>
  /** File bytes under this node. */
  size: number
}

export interface ContentOptions extends AbortOptions {
  /** @default 0 */
  offset?: number
  /** @default to the end */
  length?: number
}

export interface UnixfsFile {
  cid: CID
  /** File size in bytes. */
  size: number
  /** The bytes of the file (or of a range of it), in order. */
  content(options?: ContentOptions): AsyncGenerator<Uint8Array>
}

export interface ResolveFileOptions extends AbortOptions {
  /**
   * Blocks read ahead on each level of the tree.
   *
   * @default 16
   */
  readAhead?: number
}

/** Decodes a file block. @throws {InvalidArgumentError} when it is not a UnixFS file or raw block */
export function decodeFileNode (cid: CID, bytes: Uint8Array): FileNode {
  if (cid.code === raw.code) return { data: bytes, children: [], size: bytes.byteLength }
  if (cid.code !== dagPb.code) throw new InvalidArgumentError(`${cid} is not a file (codec 0x${cid.code.toString(16)})`)
  const node = dagPb.decode(bytes)
  if (node.Data == null) throw new InvalidArgumentError(`${cid} is not a UnixFS file`)
  let unixfs: UnixFS
  try {
    unixfs = UnixFS.unmarshal(node.Data)
  } catch (err) {
    throw new InvalidArgumentError(`${cid} is not a UnixFS file`, { cause: err })
  }
  if (unixfs.type !== 'file' && unixfs.type !== 'raw') throw new InvalidArgumentError(`${cid} is not a file (${unixfs.type})`)
  if (node.Links.length !== unixfs.blockSizes.length) throw new StorageError(`${cid}: inconsistent block sizes and links`)
  const data = unixfs.data != null && unixfs.data.byteLength > 0 ? unixfs.data : undefined
  return {
    data,
    children: node.Links.map((l, i) => ({ cid: l.Hash, size: Number(unixfs.blockSizes[i]), dagSize: l.Tsize })),
    size: Number(unixfs.fileSize())
  }
}

/** Reads the root of a file. @throws {InvalidArgumentError} when `cid` is not a file */
export async function resolveFile (cid: CID, reader: BlockReader, options: ResolveFileOptions = {}): Promise<UnixfsFile> {
  const root = decodeFileNode(cid, await reader.get(cid, options))
  const readAhead = Math.max(1, options.readAhead ?? 16)
  return {
    cid,
    size: root.size,
    content: (opts = {}) => streamFile(root, reader, readAhead, opts)
  }
}

async function * streamFile (root: FileNode, reader: BlockReader, readAhead: number, options: ContentOptions): AsyncGenerator<Uint8Array> {
  const start = Math.min(options.offset ?? 0, root.size)
  const end = options.length == null ? root.size : Math.min(root.size, start + options.length)
  if (end <= start) return
  // reads still in flight are cancelled when the consumer stops early
  const controller = new AbortController()
  const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
  // every read in flight listens to it
  setMaxListeners(Infinity, signal)
  try {
    yield * emit(root, 0)
  } finally {
    controller.abort()
  }

  async function * emit (node: FileNode, nodeStart: number): AsyncGenerator<Uint8Array> {
    let pos = nodeStart
    if (node.data != null) {
      const from = Math.max(start, pos)
      const to = Math.min(end, pos + node.data.byteLength)
      if (to > from) yield node.data.subarray(from - pos, to - pos)
      pos += node.data.byteLength
    }
    const wanted: Array<{ cid: CID, offset: number, expectedSize?: number }> = []
    for (const child of node.children) {
      if (child.size > 0 && pos < end && pos + child.size > start) {
        // a leaf's DAG is the leaf: its Tsize is its block size (a hint only: the read checks it)
        const leafLike = child.dagSize != null && child.dagSize >= child.size && child.dagSize - child.size <= LEAF_OVERHEAD
        wanted.push({ cid: child.cid, offset: pos, expectedSize: leafLike ? child.dagSize : undefined })
      }
      pos += child.size
    }
    const pending: Array<Promise<Uint8Array>> = []
    let next = 0
    const fill = (): void => {
      while (next < wanted.length && pending.length < readAhead) {
        const w = wanted[next++]
        const p = reader.get(w.cid, { signal, expectedSize: w.expectedSize })
        awaitedLater(p) // awaited in order below
        pending.push(p)
      }
    }
    for (const child of wanted) {
      signal.throwIfAborted()
      fill()
      const bytes = await (pending.shift() as Promise<Uint8Array>)
      fill()
      yield * emit(decodeFileNode(child.cid, bytes), child.offset)
    }
  }
}
