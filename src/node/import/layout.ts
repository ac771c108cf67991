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
import { claim, roomAround } from './headroom.js'
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
  /** The whole ArrayBuffer under `bytes` belongs to this block alone (it may be transferred with the view's offset). */
  ownsBuffer?: boolean
}

/** Resolves a layout: CIDv0 cannot address raw blocks, so raw leaves force CIDv1. */
export function resolveLayout (layout: FileLayout): FileLayout {
  return layout.cidVersion === 0 && layout.rawLeaves ? { ...layout, cidVersion: 1 } : layout
}

/** Encodes one chunk as a leaf block. */
export function encodeLeaf (chunk: Uint8Array, layout: FileLayout): EncodedBlock {
  const room = roomAround(chunk)
  if (layout.rawLeaves) {
    if (room == null) return { bytes: chunk, code: raw.code, version: 1 }
    // a chunk from readFileChunks is the block: its buffer can go to a hash worker uncopied
    claim(chunk)
    return { bytes: chunk, code: raw.code, version: 1, owned: true, ownsBuffer: true }
  }
  if (room != null) {
    // a chunk from readFileChunks: write the leaf's header and trailer around it, no copy
    const t = leafTemplate(chunk.byteLength)
    if (t != null && room.before >= t.prefix.byteLength && room.after >= t.suffix.byteLength) {
      const { prefix, suffix } = t
      claim(chunk)
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset - prefix.byteLength, prefix.byteLength + chunk.byteLength + suffix.byteLength)
      bytes.set(prefix, 0)
      bytes.set(suffix, prefix.byteLength + chunk.byteLength)
      return { bytes, code: dagPb.code, version: layout.cidVersion, owned: true, ownsBuffer: true }
    }
  }
  return { bytes: encodeLeafCopy(chunk), code: dagPb.code, version: layout.cidVersion, owned: true }
}

function encodeLeafCopy (chunk: Uint8Array): Uint8Array {
  const unixfs = new UnixFS({ type: 'file', data: chunk })
  return dagPb.encode({ Data: unixfs.marshal(), Links: [] })
}

const templates = new Map<number, { prefix: Uint8Array, suffix: Uint8Array } | null>()

/**
 * The bytes of a dag-pb leaf before and after its data, for data of `length` bytes (they depend
 * on the length only): found by encoding all-0x00 and all-0xff data of that length the usual way.
 */
function leafTemplate (length: number): { prefix: Uint8Array, suffix: Uint8Array } | undefined {
  let t = templates.get(length)
  if (t !== undefined) return t ?? undefined
  const a = encodeLeafCopy(new Uint8Array(length))
  const b = encodeLeafCopy(new Uint8Array(length).fill(0xff))
  const prefixLength = a.findIndex((x, i) => x !== b[i])
  const suffixLength = a.byteLength - prefixLength - length
  t = { prefix: a.slice(0, prefixLength), suffix: a.slice(a.byteLength - suffixLength) }
  if (length === 0 || prefixLength < 0 || suffixLength < 0 || a.byteLength !== b.byteLength ||
    Buffer.compare(t.prefix, b.subarray(0, prefixLength)) !== 0 || Buffer.compare(t.suffix, b.subarray(b.byteLength - suffixLength)) !== 0) {
    t = null // cannot be split (an empty chunk): the copying encoder is used
  }
  if (templates.size >= 16) templates.delete(templates.keys().next().value as number)
  templates.set(length, t)
  return t ?? undefined
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
