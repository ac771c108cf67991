/**
 * UnixFS import profiles. `'kubo'` reproduces the CIDs of Kubo's `ipfs add`
 * defaults; every importer option is set explicitly (the importer's own
 * `profile` option must not be relied on).
 */
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import type { AddOptions } from './options.js'
import type { ImporterOptions } from 'ipfs-unixfs-importer'

export interface ImportProfile {
  cidVersion: 0 | 1
  rawLeaves: boolean
  chunkSize: number
  maxChildrenPerNode: number
}

export const PROFILES: Record<'kubo' | 'cidv1', ImportProfile> = {
  /** Kubo `ipfs add`: CIDv0, 256 KiB chunks, balanced layout, 174 links, no raw leaves. */
  kubo: { cidVersion: 0, rawLeaves: false, chunkSize: 262144, maxChildrenPerNode: 174 },
  /** CIDv1, raw leaves, 1 MiB chunks, 1024 links. */
  cidv1: { cidVersion: 1, rawLeaves: true, chunkSize: 1048576, maxChildrenPerNode: 1024 }
}

/** The full importer options for an add call. */
export function importerOptions (options: AddOptions = {}): ImporterOptions {
  const profile = PROFILES[options.profile ?? 'kubo']
  if (profile == null) throw new TypeError(`Unknown profile ${String(options.profile)}`)
  const cidVersion = options.cidVersion ?? profile.cidVersion
  const rawLeaves = options.rawLeaves ?? profile.rawLeaves
  const chunkSize = options.chunkSize ?? profile.chunkSize
  const maxChildrenPerNode = options.maxChildrenPerNode ?? profile.maxChildrenPerNode
  return {
    cidVersion,
    rawLeaves,
    // CIDv0 cannot address raw blocks
    ...(cidVersion === 0 && rawLeaves ? { cidVersion: 1 } : {}),
    leafType: 'file',
    reduceSingleLeafToSelf: true,
    wrapWithDirectory: false,
    chunker: fixedSize({ chunkSize }),
    layout: balanced({ maxChildrenPerNode }),
    blockWriteConcurrency: 16
  }
}
