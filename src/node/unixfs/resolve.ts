/**
 * Paths wherever a CID is taken: `<cid>`, `<cid>/a/b.txt`, `/ipfs/<cid>/a/b`.
 * A path is walked one name at a time through UnixFS directories, flat or
 * HAMT-sharded (ipfs-unixfs-exporter translates names into shard buckets);
 * blocks missing locally are asked from workspace peers.
 */
import { exporter } from 'ipfs-unixfs-exporter'
import * as dagPb from '@ipld/dag-pb'
import { InvalidArgumentError, NotADirectoryError, PathNotFoundError } from '../../errors.js'
import { toCid } from '../cid.js'
import type { CidOrPath, ContentComponents } from '../blocks/components.js'
import type { AbortOptions } from '@libp2p/interface'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'

export interface CidPath {
  cid: CID
  /** Names under the root, in order (empty for a bare CID). */
  segments: string[]
}

/** Splits a CID or path into its root CID and the names under it. @throws {InvalidCidError} */
export function parseCidPath (input: CidOrPath): CidPath {
  if (typeof input !== 'string') return { cid: toCid(input), segments: [] }
  let s = input.trim()
  if (s.startsWith('/ipfs/')) s = s.slice('/ipfs/'.length)
  else if (s.startsWith('ipfs://')) s = s.slice('ipfs://'.length)
  const parts = s.split('/')
  const cid = toCid(parts[0])
  const segments = parts.slice(1).filter(p => p !== '' && p !== '.')
  if (segments.includes('..')) throw new InvalidArgumentError('A path may not contain ".."')
  return { cid, segments: segments.map(safeDecode) }
}

function safeDecode (segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

export interface ResolveResult {
  /** The node the path names. */
  cid: CID
  /** What is left of the path below a node that is not UnixFS (dag-cbor, dag-json...). */
  remainder?: string
}

/**
 * Resolves a path to the CID of the node it names.
 *
 * @throws {PathNotFoundError} when a name is missing
 * @throws {NotADirectoryError} when a name is looked up under a file
 */
export async function resolvePath (components: Pick<ContentComponents, 'blockstore'>, input: CidOrPath, options: AbortOptions = {}): Promise<ResolveResult> {
  options.signal?.throwIfAborted()
  const { cid, segments } = parseCidPath(input)
  let current = cid
  for (let i = 0; i < segments.length; i++) {
    if (current.code !== dagPb.code) {
      if (current.code === 0x55) throw new NotADirectoryError(`${pathOf(cid, segments, i)} is a raw block, not a directory`)
      return { cid: current, remainder: segments.slice(i).join('/') }
    }
    const dir = await exporter(current, components.blockstore, { signal: options.signal })
    if (dir.type !== 'directory') throw new NotADirectoryError(`${pathOf(cid, segments, i)} is not a directory`)
    let child: UnixFSEntry
    try {
      child = await exporter(`${current.toString()}/${segments[i]}`, components.blockstore, { signal: options.signal })
    } catch (err: any) {
      if (err?.name === 'NotFoundError') throw new PathNotFoundError(`${pathOf(cid, segments, i + 1)} does not exist`, { cause: err })
      throw err
    }
    current = child.cid
  }
  return { cid: current }
}

function pathOf (cid: CID, segments: string[], n: number): string {
  return [cid.toString(), ...segments.slice(0, n)].join('/')
}

/** The root CID of a path when it has no names, without any block read. */
export function bareCid (input: CidOrPath): CID | undefined {
  const { cid, segments } = parseCidPath(input)
  return segments.length === 0 ? cid : undefined
}
