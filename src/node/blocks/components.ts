/**
 * What the folder, CAR and block operations need from a workspace node: each
 * operation is a free function over (a `Pick<>` of) these, so wiring it into
 * the node class or a Helia-style `commands/` layout is one line.
 */
import type { PinStore } from '../pins/pin-store.js'
import type { CodecLoader, HasherLoader } from '@helia/interface'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** The local blockstore of the workspace (no network), with gc protection. */
export interface LocalBlockstore extends Pick<Blockstore, 'has' | 'get' | 'delete' | 'getAll'> {
  /**
   * Stores a whole block locally (no announcement to peers: nobody wants a block being
   * imported); resolves whether this call stored it. One existence check at most.
   * Absent: writes go through `blockstore` after a `has()`.
   */
  put?(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<boolean>
  /** Mark the start of an operation whose blocks must survive gc. Returns the end function. */
  beginOperation(): () => void
  /**
   * The blocks of the store's write session the caller runs in, if any (the guarded
   * blockstore's: it tracks every block `put` touches anyway), so an operation writing through
   * `put` need not keep a second set of the same blocks.
   */
  session?(): SessionBlocks | undefined
}

/** What a store's write session knows of its blocks; each iterable gives a fresh pass each time. */
export interface SessionBlocks {
  /** Every block put in the session (stored or not), each once, in a fixed order. */
  putBlocks(): Iterable<CID>
  /** The blocks the session newly stored. */
  newBlocks(): Iterable<CID>
}

export interface ContentComponents {
  /** Helia's blockstore: a missing block is asked from workspace peers; writes are announced. */
  blockstore: Blockstore
  /** The workspace's own blocks, never the network. */
  local: LocalBlockstore
  /** The workspace's pin records. */
  pins: PinStore
  getCodec: CodecLoader
  getHasher: HasherLoader
  /** Called after content was written and pinned (the storage node checks its gc watermark). */
  afterWrite?: () => void
  /** Default folder of `get()` downloads. */
  cacheDir?: string
}

/** A CID (or a CID-rooted path) as operations take it. */
export type CidOrPath = CID | string
