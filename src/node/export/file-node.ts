/**
 * A UnixFS file node decoded: the file bytes it holds, its children with the file bytes under
 * each (from the node's block sizes) and their DAG sizes (the links' Tsize).
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { InvalidArgumentError, StorageError } from '../../errors.js'
import type { CID } from 'multiformats/cid'

export interface FileNode {
  /** File bytes held in this node itself (before its children). */
  data?: Uint8Array
  /** Children in file order with the file bytes under each, and the bytes of its DAG (the link's Tsize). */
  children: Array<{ cid: CID, size: number, dagSize?: number }>
  /** File bytes under this node. */
  size: number
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
