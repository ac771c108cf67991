/**
 * SHA-256 CIDs computed off the main thread: WebCrypto's `digest` runs in
 * libuv's thread pool (native OpenSSL, SHA extensions where the CPU has them),
 * so blocks hash on every core while the main thread reads and encodes.
 */
import { webcrypto } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { EncodedBlock } from './layout.js'

const SHA2_256 = 0x12

/** The CID of an encoded block (SHA-256 multihash). */
export async function blockCid (block: EncodedBlock): Promise<CID> {
  const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', block.bytes))
  const mh = Digest.create(SHA2_256, digest)
  return block.version === 0 ? CID.createV0(mh as any) : CID.createV1(block.code, mh)
}
