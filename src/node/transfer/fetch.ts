/**
 * Multi-source fetch: the missing part of a DAG from every connected peer
 * that speaks the transfer protocol, at once.
 *
 * - Work is a queue of subDAG roots (with their size when the parent's link
 *   gives one). A peer takes a chunk of them (about `chunkBytes`) and streams
 *   those whole subDAGs; a root too large for one chunk, or of unknown size,
 *   is first asked for alone (`request-blocks`) so its links can be shared out.
 *   With a single peer there is nothing to share: it gets the whole frontier.
 * - A CID is in at most one request at a time (the queue, or exactly one
 *   request's expected set), so no two peers are asked for one block at once.
 * - A peer that fails (no protocol, busy, a bad block, dies, no progress for
 *   `progressTimeout`) leaves; what it had not sent goes back to the queue for
 *   the others. A peer still busy when others are idle and the queue is empty
 *   is asked to stop (`cancel`): once it has ended, its remainder is shared out
 *   (work stealing, without overlap).
 * - What every peer reported missing is returned, for bitswap.
 */
import { setMaxListeners } from 'node:events'
import { logger } from '@libp2p/logger'
import { mhKey } from '../dag.js'
import { LocalWriteError, receiveTransfer } from './client.js'
import type { BlockEvent, GetHasher, Want } from './client.js'
import type { GetCodec } from './server.js'
import type { BlockWriter } from './writer.js'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing-storage:transfer:fetch')
const RAW = 0x55
const IDENTITY = 0x00

export interface FetchPlanInit {
  libp2p: Pick<Libp2p, 'getConnections' | 'dialProtocol' | 'addEventListener' | 'removeEventListener'>
  protocol: string
  getCodec: GetCodec
  getHasher: GetHasher
  writer: BlockWriter
  maxBlockSize: number
  highWaterMark: number
  progressTimeout: number
  maxRequestCids: number
  /** Bytes of subDAGs per request when several peers share the work. */
  chunkBytes: number
  /** Requests in flight per peer. */
  perPeer: number
  knownMissing: Set<string>
  signal: AbortSignal
  onBlock?: (event: BlockEvent) => void
}

interface PeerState {
  id: PeerId
  key: string
  active: number
  failed: boolean
  busyCount: number
  backoffUntil: number
  /** last time any stream from this peer brought bytes (its streams share its bandwidth) */
  lastActivity: number
  /** bytes/s seen from this peer in its last request (undefined before the first) */
  rate?: number
}

const MIN_WINDOW = 256 * 1024
const SHARING_WINDOW = 512 * 1024
const MAX_WINDOW = 4 * 1024 * 1024
/** Rate assumed of a peer before it has sent anything, bytes/s (for its progress deadline). */
const ASSUMED_RATE = 256 * 1024

interface Assignment {
  peer: PeerState
  blocksOnly: boolean
  expected: Map<string, Want>
  controller: AbortController
  cancel?: () => void
  cancelled: boolean
}

class MultiSourceFetch {
  private readonly init: FetchPlanInit
  private queue: Want[] = []
  private readonly queued = new Set<string>()
  private readonly active = new Set<Assignment>()
  private readonly taken = new Set<string>()
  /** key -> peers that reported it missing */
  private readonly refusedBy = new Map<string, Set<string>>()
  private readonly peers = new Map<string, PeerState>()
  private fatal?: unknown
  private wakeUp?: () => void
  private woken = false
  private readonly running = new Set<Promise<void>>()
  /** subDAG bytes per request now: `chunkBytes`, less when the queue is short (about 3 requests per peer) */
  private chunk: number
  private backoffTimer?: ReturnType<typeof setTimeout>

  constructor (init: FetchPlanInit, frontier: Want[]) {
    this.init = init
    this.chunk = init.chunkBytes
    for (const w of frontier) this.enqueue(w)
  }

  private readonly wake = (): void => {
    const w = this.wakeUp
    this.wakeUp = undefined
    if (w == null) this.woken = true
    else w()
  }

  private enqueue (w: Want, front = false): void {
    const k = mhKey(w.cid)
    if (this.queued.has(k) || this.taken.has(k)) return
    for (const a of this.active) if (a.expected.has(k)) return
    this.queued.add(k)
    if (front) this.queue.unshift(w)
    else this.queue.push(w)
  }

  private refreshPeers (): void {
    for (const c of this.init.libp2p.getConnections()) {
      if (c.status !== 'open') continue
      const key = c.remotePeer.toString()
      if (!this.peers.has(key)) this.peers.set(key, { id: c.remotePeer, key, active: 0, failed: false, busyCount: 0, backoffUntil: 0, lastActivity: Date.now() })
    }
  }

  private usable (now: number): PeerState[] {
    return [...this.peers.values()].filter(p => !p.failed && p.backoffUntil <= now).sort((a, b) => a.active - b.active)
  }

  private refused (w: Want, peer: PeerState): boolean {
    return this.refusedBy.get(mhKey(w.cid))?.has(peer.key) === true
  }

  /** Takes this peer's next request off the queue, or `undefined` when nothing is left for it. */
  private nextRequest (peer: PeerState, sharing: boolean): { wants: Want[], blocksOnly: boolean } | undefined {
    const mine = this.queue.filter(w => !this.refused(w, peer))
    if (mine.length === 0) return undefined
    const splittable = (w: Want): boolean => w.cid.code !== RAW && w.cid.multihash.code !== IDENTITY && (w.size == null || w.size > Math.max(this.chunk, 2 * 1024 * 1024))
    let wants: Want[]
    let blocksOnly = false
    if (sharing && mine.some(splittable)) {
      blocksOnly = true
      wants = mine.filter(splittable).slice(0, 64)
    } else {
      wants = []
      let bytes = 0
      for (const w of mine) {
        if (wants.length >= this.init.maxRequestCids || (sharing && bytes >= this.chunk)) break
        wants.push(w)
        bytes += w.size ?? this.chunk
      }
    }
    const picked = new Set(wants.map(w => mhKey(w.cid)))
    this.queue = this.queue.filter(w => !picked.has(mhKey(w.cid)))
    for (const k of picked) this.queued.delete(k)
    return { wants, blocksOnly }
  }

  private schedule (): void {
    const now = Date.now()
    const usable = this.usable(now)
    const sharing = usable.length > 1
    if (sharing) {
      let queued = 0
      for (const w of this.queue) queued += w.size ?? this.init.chunkBytes
      // whole subDAGs are the unit: a request holds at least one, so small chunks only cost round trips
      this.chunk = Math.max(256 * 1024, Math.min(this.init.chunkBytes, Math.ceil(queued / (usable.length * 3))))
    }
    let started = true
    while (started && this.queue.length > 0) {
      started = false
      for (const peer of this.usable(now)) {
        if (peer.active >= this.init.perPeer) continue
        const next = this.nextRequest(peer, sharing)
        if (next == null) continue
        this.start(peer, next.wants, next.blocksOnly, sharing)
        started = true
      }
    }
    // steal: someone idle, nothing queued, a long request on another peer
    if (this.queue.length > 0 || !usable.some(p => p.active === 0)) return
    if ([...this.active].some(a => a.cancelled)) return
    let victim: Assignment | undefined
    let most = Math.max(this.chunk, 1024 * 1024)
    for (const a of this.active) {
      if (a.blocksOnly || a.cancel == null) continue
      let left = 0
      for (const w of a.expected.values()) left += w.size ?? this.chunk
      if (left > most) {
        most = left
        victim = a
      }
    }
    if (victim != null) {
      log('asking %p to stop (%d bytes left) so idle peers share its work', victim.peer.id, most)
      victim.cancelled = true
      victim.cancel?.()
    }
  }

  private start (peer: PeerState, wants: Want[], blocksOnly: boolean, sharing: boolean): void {
    const a: Assignment = {
      peer,
      blocksOnly,
      expected: new Map(wants.map(w => [mhKey(w.cid), w])),
      controller: new AbortController(),
      cancelled: false
    }
    setMaxListeners(Infinity, a.controller.signal)
    peer.active++
    this.active.add(a)
    // alone, a peer gets the stream's whole window; sharing, about half a second of its rate, so a
    // cancel takes effect soon (what is in the window cannot be taken back)
    const window = !sharing ? undefined : Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, peer.rate != null ? peer.rate / 2 : SHARING_WINDOW))
    const p = this.run(a, wants.map(w => w.cid), window).finally(() => {
      peer.active--
      this.active.delete(a)
      this.running.delete(p)
      // what the peer did not send goes back, for the others (or this one, if it just stopped)
      for (const w of a.expected.values()) this.enqueue(w, true)
      this.wake()
    })
    this.running.add(p)
  }

  private async run (a: Assignment, request: CID[], window: number | undefined): Promise<void> {
    const { init } = this
    const signal = a.controller.signal
    let timer: ReturnType<typeof setTimeout> | undefined
    const started = Date.now()
    let received = 0
    // no progress = nothing from the peer on any of its streams (two requests to one peer under a
    // bandwidth limit take turns: one may wait while the other is served)
    // bytes arrive a yamux frame at a time, and a frame may be as large as the window: a slow peer
    // (under a bandwidth limit) is given the time its rate needs to fill one
    const deadline = (): number => Math.max(init.progressTimeout, 3 * (window ?? MAX_WINDOW) * 1000 / (a.peer.rate ?? ASSUMED_RATE))
    const arm = (ms: number): void => {
      timer = setTimeout(() => {
        const idle = Date.now() - a.peer.lastActivity
        const limit = deadline()
        if (idle < limit) arm(limit - idle)
        else a.controller.abort(new Error(`no progress from ${a.peer.key} for ${Math.round(idle)} ms`))
      }, ms)
      timer.unref?.()
    }
    const touch = (): void => { a.peer.lastActivity = Date.now() }
    a.peer.lastActivity = Date.now()
    arm(deadline())
    const onAbort = (): void => { a.controller.abort(init.signal.reason) }
    init.signal.addEventListener('abort', onAbort, { once: true })
    let stream: Stream | undefined
    const abortStream = (): void => { stream?.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted')) }
    signal.addEventListener('abort', abortStream, { once: true })
    try {
      stream = await init.libp2p.dialProtocol(a.peer.id, init.protocol, { signal })
      touch()
      const result = await receiveTransfer(stream, request, a.blocksOnly, a.expected, {
        getCodec: init.getCodec,
        getHasher: init.getHasher,
        maxBlockSize: init.maxBlockSize,
        highWaterMark: init.highWaterMark,
        window,
        writer: init.writer,
        signal,
        knownMissing: init.knownMissing,
        isTaken: (k) => this.taken.has(k),
        take: (k) => { this.taken.add(k) },
        onActivity: touch,
        onCancelReady: (cancel) => { a.cancel = cancel },
        onMissing: (want) => {
          const k = mhKey(want.cid)
          let by = this.refusedBy.get(k)
          if (by == null) this.refusedBy.set(k, by = new Set())
          by.add(a.peer.key)
          // another peer may have it (or bitswap, if none does)
          this.enqueue(want, true)
          this.wake()
        },
        onBlock: (e) => {
          touch()
          received += e.bytes.byteLength
          a.peer.rate = received * 1000 / Math.max(1, Date.now() - started)
          // a block asked for alone: its links are new work for everyone
          if (a.blocksOnly) for (const l of e.links) this.enqueue({ cid: l.cid, size: l.tsize })
          init.onBlock?.(e)
          if (a.blocksOnly) this.wake()
        }
      })
      await stream.close({ signal: AbortSignal.timeout(5000) }).catch((err: Error) => {
        log('closing the stream to %p failed - %e', a.peer.id, err)
        stream?.abort(err)
      })
      if (result.busy) {
        a.peer.busyCount++
        a.peer.backoffUntil = Date.now() + Math.min(5000, 100 * 2 ** a.peer.busyCount)
        this.armBackoff(a.peer.backoffUntil)
      } else if (result.complete && !a.cancelled) {
        // anything not sent although the request ended: this peer does not have it
        for (const k of a.expected.keys()) {
          let by = this.refusedBy.get(k)
          if (by == null) this.refusedBy.set(k, by = new Set())
          by.add(a.peer.key)
        }
      } else if (!result.complete) {
        a.peer.failed = true
      }
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      if (err instanceof LocalWriteError) {
        this.fatal ??= err
        for (const other of this.active) other.controller.abort(err)
      } else if (!init.signal.aborted && this.fatal == null) {
        log('peer %p failed, its remaining work goes to the others - %e', a.peer.id, err)
        a.peer.failed = true
      }
    } finally {
      if (timer != null) clearTimeout(timer)
      init.signal.removeEventListener('abort', onAbort)
      signal.removeEventListener('abort', abortStream)
    }
  }

  private armBackoff (until: number): void {
    if (this.backoffTimer != null) clearTimeout(this.backoffTimer)
    this.backoffTimer = setTimeout(this.wake, Math.max(1, until - Date.now()))
  }

  async fetch (): Promise<CID[]> {
    const { libp2p, signal } = this.init
    libp2p.addEventListener('connection:open', this.wake)
    signal.addEventListener('abort', this.wake)
    try {
      while (true) {
        signal.throwIfAborted()
        if (this.fatal != null && this.active.size === 0) throw this.fatal
        this.refreshPeers()
        if (this.fatal == null) this.schedule()
        if (this.active.size === 0) {
          if (this.fatal != null) throw this.fatal
          const waiting = [...this.peers.values()].filter(p => !p.failed && p.backoffUntil > Date.now())
          const servable = this.queue.some(w => waiting.some(p => !this.refused(w, p)))
          if (this.queue.length === 0 || !servable) break
          this.armBackoff(Math.min(...waiting.map(p => p.backoffUntil)))
        }
        if (this.woken) this.woken = false
        else await new Promise<void>(resolve => { this.wakeUp = resolve })
      }
      return this.queue.map(w => w.cid)
    } finally {
      libp2p.removeEventListener('connection:open', this.wake)
      signal.removeEventListener('abort', this.wake)
      if (this.backoffTimer != null) clearTimeout(this.backoffTimer)
      for (const a of this.active) a.controller.abort(signal.reason ?? new Error('fetch ended'))
      // every write of every stream has settled before the caller cleans up
      await Promise.allSettled([...this.running])
    }
  }
}

/** Fetches `frontier`'s subDAGs from all connected peers; resolves with what none of them had. */
export async function fetchFromPeers (frontier: Want[], init: FetchPlanInit): Promise<CID[]> {
  return new MultiSourceFetch(init, frontier).fetch()
}
