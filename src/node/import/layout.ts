/**
 * The blocks of a UnixFS file, encoded exactly as ipfs-unixfs-importer
 * encodes them (so CIDs match Kubo's for the 'kubo' profile): a leaf is a raw
 * block or a dag-pb node holding UnixFS `{ type: file, data }`; a parent is a
 * dag-pb node holding UnixFS `{ type: file, blockSizes }` with one unnamed link
 * per non-empty child.
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import type { ImportProfile } from '../profiles.js'
import type { CID } from 'multiformats/cid'

/** How a file is cut and laid out (the resolved import profile). */
export type FileLayout = ImportProfile

/** What a parent needs to know about a child block. */
export interface NodeSummary {
  cid: CID
  /** Bytes of the child's whole DAG (the link's Tsize). */
  dagSize: number
  /** File bytes under the child. */
  fileSize: number
}

export interface EncodedBlock {
  bytes: Uint8Array
  /** Multicodec of the block (dag-pb or raw). */
  code: number
  version: 0 | 1
  /** The bytes are this module's own (freshly encoded), not the caller's: they may be handed to a worker. */
  owned?: boolean
}

/** Resolves a layout: CIDv0 cannot address raw blocks, so raw leaves force CIDv1. */
export function resolveLayout (layout: FileLayout): FileLayout {
  return layout.cidVersion === 0 && layout.rawLeaves ? { ...layout, cidVersion: 1 } : layout
}

/** Encodes one chunk as a leaf block. */
export function encodeLeaf (chunk: Uint8Array, layout: FileLayout): EncodedBlock {
  if (layout.rawLeaves) return { bytes: chunk, code: raw.code, version: 1 }
  const unixfs = new UnixFS({ type: 'file', data: chunk })
  return { bytes: dagPb.encode({ Data: unixfs.marshal(), Links: [] }), code: dagPb.code, version: layout.cidVersion, owned: true }
}

/** Encodes a parent of `children` (in file order). */
export function encodeParent (children: NodeSummary[], layout: FileLayout): { block: EncodedBlock, dagSize: number, fileSize: number } {
  const unixfs = new UnixFS({ type: 'file' })
  const links: dagPb.PBLink[] = []
  let linked = 0
  let fileSize = 0
  for (const child of children) {
    // the importer leaves out empty children
    if (child.fileSize <= 0) continue
    unixfs.addBlockSize(BigInt(child.fileSize))
    links.push({ Name: '', Tsize: child.dagSize, Hash: child.cid })
    linked += child.dagSize
    fileSize += child.fileSize
  }
  const bytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: links }))
  return { block: { bytes, code: dagPb.code, version: layout.cidVersion }, dagSize: bytes.byteLength + linked, fileSize }
}
