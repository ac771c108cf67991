/**
 * The one map key for a block: its multihash in base64. CIDv0 and CIDv1 of the same
 * bytes (and the same bytes under another codec) share it, as blockstore-fs shares
 * their file.
 */
import type { CID } from 'multiformats/cid'

export function mhKey (cid: CID): string {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('base64')
}
