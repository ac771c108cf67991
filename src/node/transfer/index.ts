/**
 * Bulk DAG transfer between the peers of one workspace, on the workspace's
 * own libp2p (so over its pnet + noise + yamux connections only).
 *
 * `fetch(root)` first walks what is already stored locally, then shares the
 * subDAGs still missing among every connected peer that speaks the protocol
 * (fetch.ts); each peer streams whole subDAGs (server.ts / client.ts), blocks
 * are written in batches (writer.ts). When a peer fails (does not speak the
 * protocol, is busy, lacks blocks, sends a bad block, dies or stalls), the
 * others take what it had not sent. What no peer could send is returned, for
 * the caller to fetch another way (bitswap). Wire format: docs/dag-transfer.md.
 *
 * @example
 * ```ts
 * const transfer = createDagTransfer({ libp2p, blockstore, getCodec, getHasher })
 * await transfer.start()
 * const missing = await transfer.fetch(root, { signal })
 * ```
 */
import { TypedEventEmitter } from '@libp2p/interface'
import { collect, mhKey, readLinks } from '../dag.js'
import { fetchFromPeers } from './fetch.js'
import { PROTOCOL } from './frames.js'
import { refuseTransfer, serveTransfer } from './server.js'
import { BlockWriter } from './writer.js'
import type { PutNew } from './writer.js'
import type { BlockEvent, GetHasher, Want } from './client.js'
import type { GetCodec, ServeEvent } from './server.js'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

export { PROTOCOL } from './frames.js'
export type { BlockEvent } from './client.js'
export type { ServeEvent } from './server.js'
export { LocalWriteError } from './writer.js'
export { createBlockFileReader } from './read-block.js'
export type { ReadBlock } from './read-block.js'

export interface DagTransferInit {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'getConnections' | 'dialProtocol' | 'addEventListener' | 'removeEventListener'>
  /**
   * The node's local blockstore (no network): served from, written to in batches (quota applies);
   * with `putNew` (the guarded blockstore) received blocks are written without a `has()` first.
   */
  blockstore: Pick<Blockstore, 'has' | 'get' | 'putMany'> & Partial<PutNew> & { copiesBytes?: boolean }
  getCodec: GetCodec
  getHasher: GetHasher
  /** @default '/otherthing-storage/dag/1.0.0' */
  protocol?: string
  /** Transfers this node serves at once (all peers together); more get `busy`. @default 4 */
  maxServing?: number
  /** Blocks the server reads ahead of the stream (more while they are small: 2 MiB of them, 256 at most). @default 8 */
  readAhead?: number
  /**
   * Reads a local block straight from its file, undefined when it is not there
   * (`BlockLayout.readBatched`); `expectedSize` is its link's Tsize when that can be a leaf's size.
   */
  readBlock?: (cid: CID, expectedSize?: number) => Promise<Uint8Array | undefined>
  /** Received bytes not yet written above which the stream is paused. @default 8 MiB */
  highWaterMark?: number
  /**
   * Blockstore write batches (`putMany`) in flight while receiving. What they hold is bounded by
   * `highWaterMark` (the stream pauses), so many small blocks can be in flight at once. @default 32
   */
  writeConcurrency?: number
  /** Bytes of subDAGs per request when several peers share a fetch. @default 8 MiB */
  chunkBytes?: number
  /** Requests in flight to one peer. @default 2 */
  perPeer?: number
  /** Every request served, block sent and request ended (metrics, tests). */
  onServe?: (event: ServeEvent) => void
  /** A peer that sends nothing for this long is left for the next one, ms. @default 10000 */
  progressTimeout?: number
  /** Largest block accepted. @default 4 MiB */
  maxBlockSize?: number
  /** CIDs per request (a larger frontier is asked in several requests). @default 4096 */
  maxRequestCids?: number
}

export interface FetchDagOptions {
  signal: AbortSignal
  /**
   * Every block of the DAG now stored locally (found locally or received), once. Its `bytes` are
   * valid during the call only: keep a copy, not the view (received frames are reused).
   */
  onBlock?: (event: BlockEvent) => void
}

/** What this node served since start, all peers together. */
export interface ServeCounters {
  requests: number
  /** Blocks sent. */
  blocks: number
  /** Blocks asked for that were not stored here. */
  missing: number
  /** Requests the peer cancelled (its work went to another peer). */
  cancelled: number
}

export interface DagTransferEvents {
  /** Every request served, block sent and request ended (only dispatched while someone listens). */
  serve: CustomEvent<ServeEvent>
}

export interface DagTransfer extends TypedEventEmitter<DagTransferEvents> {
  readonly served: ServeCounters
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * Brings the DAG under `root` into the blockstore from peers speaking the
   * protocol. Resolves with the CIDs of the subDAGs still missing (empty when
   * the whole DAG is stored).
   * @throws {LocalWriteError} a blockstore write failed (`cause`: e.g. QuotaExceededError)
   */
  fetch(root: CID, options: FetchDagOptions): Promise<CID[]>
}

class DefaultDagTransfer extends TypedEventEmitter<DagTransferEvents> implements DagTransfer {
  readonly served: ServeCounters = { requests: 0, blocks: 0, missing: 0, cancelled: 0 }
  private readonly init: DagTransferInit
  private readonly protocol: string
  private serving = 0
  private started = false

  constructor (init: DagTransferInit) {
    super()
    this.init = init
    this.protocol = init.protocol ?? PROTOCOL
  }

  async start (): Promise<void> {
    if (this.started) return
    const max = this.init.maxServing ?? 4
    await this.init.libp2p.handle(this.protocol, async (stream: Stream, connection) => {
      if (this.serving >= max) {
        await refuseTransfer(stream)
        return
      }
      this.serving++
      try {
        await serveTransfer(stream, {
          blockstore: this.init.blockstore,
          getCodec: this.init.getCodec,
          readAhead: this.init.readAhead ?? 8,
          readAheadBytes: 2 * 1024 * 1024,
          readBlock: this.init.readBlock,
          maxQueued: 256 * 1024,
          maxRequestLength: 1024 * 1024,
          idleTimeout: Math.max(30_000, 3 * (this.init.progressTimeout ?? 10_000)),
          peer: connection?.remotePeer?.toString(),
          onServe: this.onServe
        })
      } finally {
        this.serving--
      }
    }, { maxInboundStreams: max, maxOutboundStreams: max })
    this.started = true
  }

  private readonly onServe = (event: ServeEvent): void => {
    if (event.type === 'request') this.served.requests++
    else if (event.type === 'block') {
      if (event.found) this.served.blocks++
      else this.served.missing++
    } else if (event.cancelled) this.served.cancelled++
    this.init.onServe?.(event)
    if (this.listenerCount('serve') > 0) this.safeDispatchEvent('serve', { detail: event })
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.init.libp2p.unhandle(this.protocol)
  }

  /** Walks the locally stored part of the DAG; returns the frontier (missing CIDs, in DAG order). */
  private async localFrontier (root: CID, done: Set<string>, options: FetchDagOptions): Promise<Map<string, Want>> {
    const frontier = new Map<string, Want>()
    const sizes = new Map<string, number | undefined>()
    const stack: CID[] = [root]
    const seen = new Set<string>([mhKey(root)])
    while (stack.length > 0) {
      options.signal.throwIfAborted()
      const cid = stack.pop() as CID
      const k = mhKey(cid)
      let bytes: Uint8Array | undefined
      if (cid.multihash.code === 0x00) bytes = cid.multihash.digest
      else if (await this.init.blockstore.has(cid, options)) bytes = await collect(this.init.blockstore.get(cid, options) as AsyncIterable<Uint8Array>)
      if (bytes == null) {
        frontier.set(k, { cid, size: sizes.get(k) })
        continue
      }
      done.add(k)
      const { links } = await readLinks(cid, bytes, this.init.getCodec)
      options.onBlock?.({ cid, bytes, links, fetched: false })
      for (let i = links.length - 1; i >= 0; i--) {
        const lk = mhKey(links[i].cid)
        if (seen.has(lk)) continue
        seen.add(lk)
        sizes.set(lk, links[i].tsize)
        stack.push(links[i].cid)
      }
    }
    return frontier
  }

  async fetch (root: CID, options: FetchDagOptions): Promise<CID[]> {
    options.signal.throwIfAborted()
    const done = new Set<string>()
    const frontier = await this.localFrontier(root, done, options)
    if (frontier.size === 0) return []
    const writer = new BlockWriter({
      blockstore: this.init.blockstore,
      // received blocks are frames that own their ArrayBuffer (frame-reader.ts): lent to the fs write worker
      lend: true,
      concurrency: this.init.writeConcurrency ?? 32,
      signal: options.signal
    })
    return fetchFromPeers([...frontier.values()], {
      libp2p: this.init.libp2p,
      protocol: this.protocol,
      getCodec: this.init.getCodec,
      getHasher: this.init.getHasher,
      writer,
      maxBlockSize: this.init.maxBlockSize ?? 4 * 1024 * 1024,
      highWaterMark: this.init.highWaterMark ?? 8 * 1024 * 1024,
      progressTimeout: this.init.progressTimeout ?? 10_000,
      maxRequestCids: this.init.maxRequestCids ?? 4096,
      chunkBytes: this.init.chunkBytes ?? 8 * 1024 * 1024,
      perPeer: this.init.perPeer ?? 2,
      knownMissing: new Set(frontier.keys()),
      signal: options.signal,
      onBlock: options.onBlock
    })
  }
}

export function createDagTransfer (init: DagTransferInit): DagTransfer {
  return new DefaultDagTransfer(init)
}
