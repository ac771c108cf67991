/**
 * The option and result types of a workspace node's content operations. A
 * leaf module (it imports no module of ours) so that the operations in
 * unixfs/, blocks/, car/, import/ and export/ can use them while types.ts,
 * which names those operations in `WorkspaceNode`, re-exports them: no
 * import cycle, not even between types.
 */
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type { AbortOptions }

/** Progress of a long operation, in bytes. `total` is set when known. */
export interface ByteProgress {
  bytes: number
  total?: number
}

export interface ProgressOptions extends AbortOptions {
  /** Called as work proceeds, with the bytes done so far. */
  onProgress?: (progress: ByteProgress) => void
}

/**
 * Import options. The default profile `'kubo'` gives the same CIDs as Kubo's
 * `ipfs add` (CIDv0, fixed 262144-byte chunks, balanced DAG with 174 links,
 * no raw leaves); `'cidv1'` is CIDv1, raw leaves, 1 MiB chunks, 1024 links.
 * The other fields override the chosen profile.
 */
export interface AddOptions extends ProgressOptions {
  /** @default 'kubo' */
  profile?: 'kubo' | 'cidv1'
  cidVersion?: 0 | 1
  rawLeaves?: boolean
  /** Fixed chunk size in bytes. */
  chunkSize?: number
  /** Maximum links per DAG node. */
  maxChildrenPerNode?: number
  /** Pin the added content. @default true */
  pin?: boolean
  /** A name recorded with the pin (e.g. the file name). */
  name?: string
}

export interface AddResult {
  cid: CID
  /** File size in bytes (the content, not the DAG). */
  size: number
}

export type AddSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | NodeJS.ReadableStream

export interface CatOptions extends AbortOptions {
  offset?: number
  length?: number
  /** Give up fetching missing blocks from peers after this many ms. */
  timeout?: number
}

export interface GetOptions extends ProgressOptions {
  timeout?: number
}
