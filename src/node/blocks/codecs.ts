/**
 * The codecs and hashers of the block API and CAR import: dag-pb, raw,
 * dag-cbor and dag-json; sha2-256, sha2-512 and identity. The workspace's
 * Helia node is created with the same ones (so pins walk dag-cbor DAGs).
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { InvalidArgumentError } from '../../errors.js'
import type { BlockCodec } from 'multiformats/codecs/interface'
import type { MultihashHasher } from 'multiformats/hashes/interface'

export type BlockFormat = 'dag-pb' | 'raw' | 'dag-cbor' | 'dag-json'
export type HashName = 'sha2-256' | 'sha2-512' | 'identity'

export const CODECS: Record<BlockFormat, BlockCodec<number, any>> = {
  'dag-pb': dagPb,
  raw,
  'dag-cbor': dagCbor,
  'dag-json': dagJson
}

export const HASHERS: Record<HashName, MultihashHasher<number>> = {
  'sha2-256': sha256,
  'sha2-512': sha512,
  identity: identity as unknown as MultihashHasher<number>
}

/** For Helia's `codecs` / `hashers` init (dag-pb, raw, sha2-256 and identity are built in). */
export const EXTRA_CODECS = [dagCbor, dagJson]
export const EXTRA_HASHERS = [sha512]

export function codecByCode (code: number): BlockCodec<number, any> | undefined {
  return Object.values(CODECS).find(c => c.code === code)
}

export function hasherByCode (code: number): MultihashHasher<number> | undefined {
  return Object.values(HASHERS).find(h => h.code === code)
}

export function codecByName (name: string): BlockCodec<number, any> {
  const codec = CODECS[name as BlockFormat]
  if (codec == null) throw new InvalidArgumentError(`Unknown format ${JSON.stringify(name)} (dag-pb, raw, dag-cbor or dag-json)`)
  return codec
}

export function hasherByName (name: string): MultihashHasher<number> {
  const hasher = HASHERS[name as HashName]
  if (hasher == null) throw new InvalidArgumentError(`Unknown hash ${JSON.stringify(name)} (sha2-256, sha2-512 or identity)`)
  return hasher
}

/** Every CID linked from a decoded block, in order (dag-pb links, or CIDs anywhere in a dag-cbor/dag-json value). */
export function * linksOf (cid: CID, value: unknown): Generator<CID> {
  if (cid.code === dagPb.code) {
    for (const l of (value as dagPb.PBNode).Links) yield l.Hash
    return
  }
  if (cid.code === raw.code) return
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (v == null || typeof v !== 'object' || v instanceof Uint8Array) continue
    const asCid = CID.asCID(v)
    if (asCid != null) {
      yield asCid
      continue
    }
    const children = Array.isArray(v) ? v : Object.values(v)
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
}

/** Decodes a block with its CID's codec and lists its links. @throws {InvalidArgumentError} for an unknown codec */
export function blockLinks (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === raw.code) return []
  const codec = codecByCode(cid.code)
  if (codec == null) throw new InvalidArgumentError(`Unsupported codec 0x${cid.code.toString(16)} of ${cid}`)
  return [...linksOf(cid, codec.decode(bytes))]
}
