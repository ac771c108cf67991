/**
 * blockstore-fs's NextToLast file layout (the same file names), with a
 * `decode` that works for every hash. blockstore-fs names a file after the
 * block's multihash and decodes it back with `CID.decode(multihash)`, which
 * only works when the multihash happens to look like a CIDv0 (sha2-256): one
 * sha2-512 block (a CAR, `block put --mhtype sha2-512`) made `getAll()`
 * throw, and with it gc, verify and `refs local`. Here a name decodes to a
 * CIDv1 `raw` CID over the multihash (blocks are keyed by multihash anyway).
 */
import path from 'node:path'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { NextToLast } from 'blockstore-fs/sharding'

const RAW = 0x55

export class MultihashNextToLast extends NextToLast {
  override decode (str: string): CID {
    let name = path.basename(str)
    if (name.endsWith(this.extension)) name = name.substring(0, name.length - this.extension.length)
    return CID.createV1(RAW, Digest.decode(base32upper.decoder.decode(name)))
  }
}
