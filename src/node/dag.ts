/**
 * The one DAG walker of the workspace node, and what it needs: links of a block in any codec
 * Helia knows (dag-pb with its Tsize, dag-cbor, dag-json, raw...), a block fetch with a
 * per-block timeout and retry (a lost bitswap want does not hang the whole pin), and a walk
 * that visits each unique block once (by multihash) with a bounded number in flight.
 *
 * pin (fetch walk), the pin records (pins/), stat, verify and refetch all walk through
 * `walkDag`; the DAG transfer protocol (transfer/) reads links through `readLinks`.
 */
import { createUnsafe } from 'multiformats/block'
import { CID } from 'multiformats/cid'
import { mhKey } from '../blockstore/mh-key.js'
import type { CodecLoader } from '@helia/interface'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

export { mhKey }

const DAG_PB = 0x70
const RAW = 0x55
const IDENTITY = 0x00

export interface DagLink {
  cid: CID
  /** dag-pb's Tsize (bytes of the subDAG), when the codec records it. */
  tsize?: number
}

export interface DagNodeInfo {
  links: DagLink[]
  /** UnixFS data of a dag-pb node, if any. */
  data?: Uint8Array
}

/** The codec loader the walker needs (Helia's `getCodec`, or a narrower one). */
export type GetCodec = (code: number) => Promise<{ decode(bytes: Uint8Array): unknown, code?: number }> | { decode(bytes: Uint8Array): unknown, code?: number }

interface PbNode { Data?: Uint8Array, Links?: Array<{ Hash: CID, Tsize?: number }> }

/** Whether a block of this CID can have links (raw and identity blocks never do). */
export function mayHaveLinks (cid: CID): boolean {
  return cid.code !== RAW && cid.multihash.code !== IDENTITY
}

/** Decodes the links of a block in any codec `getCodec` knows; raw blocks have none. */
export async function readLinks (cid: CID, bytes: Uint8Array, getCodec: GetCodec | CodecLoader): Promise<DagNodeInfo> {
  if (cid.code === RAW) return { links: [] }
  const codec = await getCodec(cid.code)
  if (cid.code === DAG_PB) {
    const node = codec.decode(bytes) as PbNode
    return {
      links: (node.Links ?? []).map(l => ({ cid: CID.asCID(l.Hash) ?? CID.decode(l.Hash.bytes), tsize: l.Tsize })),
      data: node.Data
    }
  }
  const block = createUnsafe({ cid, bytes, codec: { code: cid.code, decode: (b: Uint8Array) => codec.decode(b) } })
  const links: DagLink[] = []
  for (const [, link] of block.links()) links.push({ cid: link })
  return { links }
}

/** Concatenates a block's chunks. */
export async function collect (source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const chunk of source) {
    chunks.push(chunk)
    length += chunk.byteLength
  }
  if (chunks.length === 1) return chunks[0]
  const out = new Uint8Array(length)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.byteLength
  }
  return out
}

/** Reads a whole block from a blockstore. */
export async function getBlock (blockstore: Pick<Blockstore, 'get'>, cid: CID, options?: AbortOptions): Promise<Uint8Array> {
  return collect(blockstore.get(cid, options))
}

export interface FetchBlockOptions {
  signal: AbortSignal
  /** Per-attempt timeout in ms. */
  blockTimeout: number
  /** Extra attempts after a timed-out want. */
  retries: number
  /** Called before a retry (the workspace node reconnects its peers, see commands/network.ts). */
  onRetry?: () => Promise<void>
}

/** Error raised when every attempt of a block timed out. */
export class BlockTimeoutError extends Error {
  static override name = 'BlockTimeoutError'
  override name = BlockTimeoutError.name
}

/** Gets one block (from disk or peers), retrying a timed-out want. */
export async function fetchBlock (blockstore: Pick<Blockstore, 'get'>, cid: CID, options: FetchBlockOptions): Promise<Uint8Array> {
  for (let attempt = 0; ; attempt++) {
    options.signal.throwIfAborted()
    const attemptSignal = AbortSignal.any([options.signal, AbortSignal.timeout(options.blockTimeout)])
    try {
      return await getBlock(blockstore, cid, { signal: attemptSignal })
    } catch (err) {
      if (options.signal.aborted) throw err
      if (!attemptSignal.aborted) throw err
      if (attempt >= options.retries) {
        throw new BlockTimeoutError(`Block ${cid} not received after ${attempt + 1} attempts of ${options.blockTimeout} ms`)
      }
      await options.onRetry?.()
    }
  }
}

/** What `walkDag` hands each visit. */
export interface DagVisit {
  cid: CID
  /** 0 for the root. */
  depth: number
  signal: AbortSignal
}

export interface WalkDagOptions extends AbortOptions {
  /** Visits in flight. @default 1 */
  concurrency?: number
}

/**
 * Visits every unique block reachable from `root` (each multihash once, however many links
 * point at it), at most `concurrency` at a time, depth-first. `visit` returns the block's
 * children (an empty list stops the descent there). On the first error the walk stops,
 * waits for the visits in flight to settle, and rethrows.
 */
export async function walkDag (root: CID, visit: (v: DagVisit) => Promise<CID[]>, options: WalkDagOptions = {}): Promise<void> {
  const concurrency = Math.max(1, options.concurrency ?? 1)
  const controller = new AbortController()
  const onAbort = (): void => { controller.abort(options.signal?.reason) }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  const queue: Array<{ cid: CID, depth: number }> = [{ cid: root, depth: 0 }]
  const seen = new Set<string>([mhKey(root)])
  let active = 0
  let failure: { err: unknown } | undefined

  try {
    options.signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const pump = (): void => {
        if (failure != null) {
          if (active === 0) reject(failure.err)
          return
        }
        if (queue.length === 0 && active === 0) {
          resolve()
          return
        }
        while (active < concurrency && queue.length > 0) {
          // depth-first: take the most recently discovered block, keeps the queue short
          const item = queue.pop() as { cid: CID, depth: number }
          active++
          visit({ cid: item.cid, depth: item.depth, signal: controller.signal }).then(children => {
            active--
            for (let i = children.length - 1; i >= 0; i--) {
              const k = mhKey(children[i])
              if (!seen.has(k)) {
                seen.add(k)
                queue.push({ cid: children[i], depth: item.depth + 1 })
              }
            }
            pump()
          }, err => {
            active--
            if (failure == null) {
              failure = { err }
              controller.abort(err)
            }
            pump()
          })
        }
      }
      pump()
    })
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}

export interface LocalWalkOptions extends WalkDagOptions {
  /** Whether to read the block at `depth` for its links (false: a known leaf, not read). @default always */
  descend?: (cid: CID, depth: number) => boolean
}

/**
 * Visits the unique blocks of a DAG stored in `blockstore` (no network), reading only blocks
 * that may have links. `onBlock` is awaited before the walk descends further.
 */
export async function walkLocalDag (root: CID, blockstore: Pick<Blockstore, 'get'>, getCodec: GetCodec | CodecLoader, onBlock: (cid: CID, depth: number) => Promise<void> | void, options: LocalWalkOptions = {}): Promise<void> {
  await walkDag(root, async ({ cid, depth, signal }) => {
    await onBlock(cid, depth)
    if (!mayHaveLinks(cid) || options.descend?.(cid, depth) === false) return []
    const bytes = await getBlock(blockstore, cid, { signal })
    return (await readLinks(cid, bytes, getCodec)).links.map(l => l.cid)
  }, options)
}
