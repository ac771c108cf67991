/** The content size of a DAG's root: a UnixFS file's size, a raw block's length. */
import { UnixFS } from 'ipfs-unixfs'
import { readLinks } from '../dag.js'
import type { GetCodec } from '../dag.js'
import type { CID } from 'multiformats/cid'

const RAW = 0x55
const DAG_PB = 0x70

/** File bytes under `root` (whose block is `bytes`), or undefined when it is not a UnixFS file. */
export async function fileSize (root: CID, bytes: Uint8Array, getCodec: GetCodec): Promise<number | undefined> {
  if (root.code === RAW) return bytes.byteLength
  if (root.code !== DAG_PB) return undefined
  const { data } = await readLinks(root, bytes, getCodec)
  if (data == null) return undefined
  const unixfs = UnixFS.unmarshal(data)
  return unixfs.type === 'file' || unixfs.type === 'raw' ? Number(unixfs.fileSize()) : undefined
}
