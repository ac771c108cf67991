/**
 * Bulk DAG transfer between the peers of one workspace, on the workspace's
 * own libp2p (so over its pnet + noise + yamux connections only).
 *
 * `fetch(root)` first walks what is already stored locally, then asks the
 * connected peers in turn for the subDAGs still missing; each peer streams
 * whole subDAGs (see server.ts / client.ts). When a peer fails (does not
 * speak the protocol, is busy, lacks blocks, sends a bad block, dies or
 * stalls), the next peer is asked for what is still missing, starting where
 * the last one stopped. What no peer could send is returned, for the caller
 * to fetch another way (bitswap).
 *
 * @example
 * ```ts
 * const transfer = createDagTransfer({ libp2p, blockstore, getCodec, getHasher })
 * await transfer.start()
 * const missing = await transfer.fetch(root, { signal })
 * ```
 */
import { setMaxListeners } from 'node:events'
import { collect, mhKey, readLinks } from '../dag.js'
import { LocalWriteError, receiveTransfer } from './client.js'
import { PROTOCOL } from './frames.js'
import { refuseTransfer, serveTransfer } from './server.js'
import type { BlockEvent, GetHasher } from './client.js'
import type { GetCodec } from './server.js'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

export { PROTOCOL } from './frames.js'
export type { BlockEvent } from './client.js'

export interface DagTransferInit {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'getConnections' | 'dialProtocol'>
  /** The node's local blockstore (no network): served from, written to (quota applies). */
  blockstore: Pick<Blockstore, 'has' | 'get' | 'put'>
  getCodec: GetCodec
  getHasher: GetHasher
  /** @default '/otherthing-storage/dag/1.0.0' */
  protocol?: string
  /** Transfers this node serves at once (all peers together); more get `busy`. @default 4 */
  maxServing?: number
  /** Blocks the server reads ahead of the stream. @default 8 */
  readAhead?: number
  /** Received bytes not yet written above which the stream is paused. @default 8 MiB */
  highWaterMark?: number
  /** Blockstore writes in flight while receiving. @default 8 */
  writeConcurrency?: number
  /** A peer that sends nothing for this long is left for the next one, ms. @default 10000 */
  progressTimeout?: number
  /** Largest block accepted. @default 4 MiB */
  maxBlockSize?: number
  /** CIDs per request (a larger frontier is asked in several requests). @default 4096 */
  maxRequestCids?: number
}

export interface FetchDagOptions {
  signal: AbortSignal
  /** Every block of the DAG now stored locally (found locally or received), once. */
  onBlock?: (event: BlockEvent) => void
}

export interface DagTransfer {
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

class DefaultDagTransfer implements DagTransfer {
  private readonly init: DagTransferInit
  private readonly protocol: string
  private serving = 0
  private started = false

  constructor (init: DagTransferInit) {
    this.init = init
    this.protocol = init.protocol ?? PROTOCOL
  }

  async start (): Promise<void> {
    if (this.started) return
    const max = this.init.maxServing ?? 4
    await this.init.libp2p.handle(this.protocol, async (stream: Stream) => {
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
          maxQueued: 1024 * 1024,
          maxRequestLength: 1024 * 1024,
          idleTimeout: Math.max(30_000, 3 * (this.init.progressTimeout ?? 10_000))
        })
      } finally {
        this.serving--
      }
    }, { maxInboundStreams: max, maxOutboundStreams: max })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.init.libp2p.unhandle(this.protocol)
  }

  /** Walks the locally stored part of the DAG; returns the frontier (missing CIDs, in DAG order). */
  private async localFrontier (root: CID, done: Set<string>, options: FetchDagOptions): Promise<Map<string, CID>> {
    const frontier = new Map<string, CID>()
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
        frontier.set(k, cid)
        continue
      }
      done.add(k)
      const { links } = await readLinks(cid, bytes, this.init.getCodec)
      options.onBlock?.({ cid, bytes, links, fetched: false })
      for (let i = links.length - 1; i >= 0; i--) {
        const lk = mhKey(links[i].cid)
        if (seen.has(lk)) continue
        seen.add(lk)
        stack.push(links[i].cid)
      }
    }
    return frontier
  }

  private nextPeer (tried: Set<string>): PeerId | undefined {
    for (const c of this.init.libp2p.getConnections()) {
      if (c.status === 'open' && !tried.has(c.remotePeer.toString())) return c.remotePeer
    }
    return undefined
  }

  async fetch (root: CID, options: FetchDagOptions): Promise<CID[]> {
    options.signal.throwIfAborted()
    const done = new Set<string>()
    const expected = await this.localFrontier(root, done, options)
    const timeout = this.init.progressTimeout ?? 10_000
    const maxCids = this.init.maxRequestCids ?? 4096
    // peers in turn; connections opened meanwhile count too (a new peer can finish the job)
    const tried = new Set<string>()
    for (let peer = this.nextPeer(tried); peer != null && expected.size > 0; peer = this.nextPeer(tried)) {
      tried.add(peer.toString())
      // ask this peer for the frontier, a request at a time, while it delivers;
      // never twice for a CID it was asked for or reported missing
      const asked = new Set<string>()
      while (expected.size > 0) {
        options.signal.throwIfAborted()
        const request = [...take(expected.values(), maxCids, c => !asked.has(mhKey(c)))]
        if (request.length === 0) break
        for (const c of request) asked.add(mhKey(c))
        const outcome = await this.fetchFrom(peer, request, expected, done, asked, options, timeout)
        if (outcome !== 'complete') break
      }
      if (expected.size === 0) break
    }
    return [...expected.values()]
  }

  private async fetchFrom (peer: PeerId, request: CID[], expected: Map<string, CID>, done: Set<string>, asked: Set<string>, options: FetchDagOptions, timeout: number): Promise<'complete' | 'failed'> {
    const attempt = new AbortController()
    // every blockstore write in flight listens to it
    setMaxListeners(Infinity, attempt.signal)
    let timer: ReturnType<typeof setTimeout> | undefined
    const touch = (): void => {
      if (timer != null) clearTimeout(timer)
      timer = setTimeout(() => { attempt.abort(new Error(`no progress from ${peer} for ${timeout} ms`)) }, timeout)
      timer.unref?.()
    }
    const onAbort = (): void => { attempt.abort(options.signal.reason) }
    options.signal.addEventListener('abort', onAbort, { once: true })
    let stream: Stream | undefined
    const abortStream = (): void => { stream?.abort(attempt.signal.reason instanceof Error ? attempt.signal.reason : new Error('aborted')) }
    attempt.signal.addEventListener('abort', abortStream, { once: true })
    touch()
    try {
      stream = await this.init.libp2p.dialProtocol(peer, this.protocol, { signal: attempt.signal })
      touch()
      const result = await receiveTransfer(stream, request, expected, done, {
        blockstore: this.init.blockstore,
        getCodec: this.init.getCodec,
        getHasher: this.init.getHasher,
        maxBlockSize: this.init.maxBlockSize ?? 4 * 1024 * 1024,
        highWaterMark: this.init.highWaterMark ?? 8 * 1024 * 1024,
        writeConcurrency: this.init.writeConcurrency ?? 8,
        signal: attempt.signal,
        onActivity: touch,
        onMissing: (c) => { asked.add(mhKey(c)) },
        onBlock: (e) => { touch(); options.onBlock?.(e) }
      })
      await stream.close({ signal: AbortSignal.timeout(5000) }).catch(() => { stream?.abort(new Error('close failed')) })
      return result.complete ? 'complete' : 'failed'
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      if (options.signal.aborted) throw options.signal.reason ?? err
      if (err instanceof LocalWriteError) throw err
      // the peer failed (no protocol, bad block, died, stalled): the next one continues
      return 'failed'
    } finally {
      if (timer != null) clearTimeout(timer)
      options.signal.removeEventListener('abort', onAbort)
      attempt.signal.removeEventListener('abort', abortStream)
    }
  }
}

function * take<T> (it: Iterable<T>, n: number, filter: (v: T) => boolean): Generator<T> {
  if (n <= 0) return
  for (const v of it) {
    if (!filter(v)) continue
    yield v
    if (--n <= 0) return
  }
}

export function createDagTransfer (init: DagTransferInit): DagTransfer {
  return new DefaultDagTransfer(init)
}
