/**
 * One workspace's private Helia node: libp2p over TCP with the workspace's
 * pnet key, bitswap as the only block broker, libp2p as the only router, its
 * blocks in the node's quota blockstore and its pins, peer store and peer
 * identity in its own datastore.
 */
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { exporter } from 'ipfs-unixfs-exporter'
import {
  AbortedError, ContentNotFoundError, InvalidArgumentError, NotPinnedError, NotStartedError,
  RangeNotSatisfiableError, StorageError
} from '../errors.js'
import { isAbortError, operationSignal, toCid, translateError } from './cid.js'
import { BlockTimeoutError, collect, fetchBlock, mhKey, readLinks, walkDag } from './dag.js'
import { createGuardedBlockstore, isFullError } from './guarded-blockstore.js'
import { createLocalFirstBlockReader, resolveFile, writeToFile } from './export/index.js'
import { importFile, importedFileWalker, layoutFor, readFileChunks } from './import/index.js'
import { workspaceLibp2pOptions } from './libp2p-config.js'
import { openRepo } from './repo.js'
import { createDagTransfer } from './transfer/index.js'
import type { DagTransfer } from './transfer/index.js'
import type { BandwidthLimits } from './bandwidth.js'
import type { GuardedBlockstore } from './guarded-blockstore.js'
import type { Repo, WrapBlockstore } from './repo.js'
import type {
  AbortOptions, AddOptions, AddResult, AddSource, CatOptions, GcResult, GetOptions, PeerInfo, PinInfo,
  PinOptions, StatResult, VerifyResult, WorkspaceNode, WorkspaceNodeStats
} from './types.js'
import type { SwarmKey } from '../swarm-key/index.js'
import type { Helia } from '@helia/interface'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import type { Libp2p } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Hooks through which the storage node shares one quota between workspaces. */
export interface QuotaHooks {
  /** Node-wide usage. */
  usage(): { used: number, limit: number }
  /** A write was refused for lack of space: gc every workspace; `true` when a retry may succeed. */
  onFull(): Promise<boolean>
  /** Called after content was added or pinned (the storage node checks the gc watermark). */
  afterWrite(): void
  /** Free bytes on the drive. */
  driveFreeBytes(): Promise<number>
}

export interface WorkspaceNodeInit {
  workspaceId: string
  swarmKey: SwarmKey
  /** `<root>/ipfs/workspaces/<id>/blocks` */
  blocksPath: string
  /** `<root>/ipfs/workspaces/<id>/datastore` */
  datastorePath: string
  /** Default folder of `get()`: `<root>/workspace-<id>/cache`. */
  cacheDir: string
  /** @default ['/ip4/0.0.0.0/tcp/0'] */
  listenAddresses?: string[]
  /** Workspace peers to dial at start (multiaddrs with `/p2p/<id>`). */
  bootstrapPeers?: string[]
  /** libp2p connection manager limit. @default 100 */
  maxConnections?: number
  /** Bandwidth limits of this workspace, bytes/s. @default none */
  bandwidth?: BandwidthLimits
  /** How long one block want may take before it is sent again, ms. @default 30000 */
  blockTimeout?: number
  /** How many times a timed-out block want is retried. @default 3 */
  blockRetries?: number
  /** Blocks fetched in parallel by pin(). @default 32 */
  fetchConcurrency?: number
  /** How long join waits for each bootstrap dial, ms. @default 5000 */
  dialTimeout?: number
  /** Wraps the blockstore-fs (the storage node puts its QuotaBlockstore here). @default none */
  wrapBlockstore?: WrapBlockstore
  /** The storage node's quota hooks. @default no quota */
  quota?: QuotaHooks
}

type WorkspaceHelia = HeliaWithLibp2p<any>

function isUnixfsFile (entry: any): boolean {
  return entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity'
}

/** Size in bytes of a file entry from the exporter. */
function entrySize (entry: any): number {
  return Number(entry.size ?? 0)
}

async function * toChunks (source: AddSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source
    return
  }
  for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
    if (typeof chunk === 'string') yield Buffer.from(chunk)
    else yield chunk
  }
}

function assertPositiveInt (value: number | undefined, name: string): void {
  if (value != null && (!Number.isSafeInteger(value) || value <= 0)) {
    throw new InvalidArgumentError(`${name} must be a positive integer`)
  }
}

class DefaultWorkspaceNode implements WorkspaceNode {
  readonly workspaceId: string
  readonly keyFingerprint: string
  private readonly init: WorkspaceNodeInit
  private repo?: Repo
  private blockstore?: GuardedBlockstore
  private heliaNode?: WorkspaceHelia
  private running = false
  private gcRunning?: Promise<GcResult>
  private transfer?: DagTransfer

  constructor (init: WorkspaceNodeInit) {
    this.init = init
    this.workspaceId = init.workspaceId
    this.keyFingerprint = init.swarmKey.fingerprint
  }

  get helia (): WorkspaceHelia {
    if (!this.running || this.heliaNode == null) throw new NotStartedError(`Workspace ${this.workspaceId} node is not running`)
    return this.heliaNode
  }

  private get libp2p (): Libp2p {
    return this.helia.libp2p
  }

  get peerId (): string {
    return this.libp2p.peerId.toString()
  }

  get isRunning (): boolean {
    return this.running
  }

  async start (): Promise<void> {
    if (this.running) return
    const repo = await openRepo({
      name: this.workspaceId,
      blocksPath: this.init.blocksPath,
      datastorePath: this.init.datastorePath,
      wrapBlockstore: this.init.wrapBlockstore
    })
    try {
      const blockstore = createGuardedBlockstore({ child: repo.blockstore, onFull: this.init.quota?.onFull })
      const helia = withBitswap(withLibp2pLight(createHeliaLight({
        blockstore,
        datastore: repo.datastore,
        routers: [],
        blockBrokers: []
      }), workspaceLibp2pOptions({
        swarmKey: this.init.swarmKey,
        listenAddresses: this.init.listenAddresses,
        maxConnections: this.init.maxConnections,
        bandwidth: this.init.bandwidth
      })))
      await helia.start()
      // bulk DAG transfers between workspace peers (pin), on this workspace's libp2p only
      const transfer = createDagTransfer({
        libp2p: helia.libp2p,
        blockstore,
        getCodec: helia.getCodec as any,
        getHasher: helia.getHasher as any,
        progressTimeout: Math.min(this.init.blockTimeout ?? 30_000, 10_000)
      })
      await transfer.start()
      this.transfer = transfer
      this.repo = repo
      this.blockstore = blockstore
      this.heliaNode = helia as WorkspaceHelia
      this.running = true
    } catch (err) {
      await repo.close()
      throw err
    }
    if (this.init.bootstrapPeers != null && this.init.bootstrapPeers.length > 0) {
      await this.dialPeers(this.init.bootstrapPeers)
    }
  }

  /** Dials each peer (best effort) and remembers it so libp2p reconnects to it. */
  async dialPeers (peers: string[], options: AbortOptions = {}): Promise<void> {
    await Promise.allSettled(peers.map(async p => {
      await this.connect(p, { signal: AbortSignal.any([AbortSignal.timeout(this.init.dialTimeout ?? 5000), ...(options.signal != null ? [options.signal] : [])]) })
    }))
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    try {
      await this.gcRunning?.catch(() => {})
      await this.transfer?.stop().catch(() => {})
      await this.heliaNode?.stop()
    } finally {
      await this.repo?.close()
      this.heliaNode = undefined
      this.repo = undefined
      this.blockstore = undefined
      this.transfer = undefined
    }
  }

  private get store (): GuardedBlockstore {
    if (!this.running || this.blockstore == null) throw new NotStartedError(`Workspace ${this.workspaceId} node is not running`)
    return this.blockstore
  }

  multiaddrs (): string[] {
    const id = this.peerId
    return this.libp2p.getMultiaddrs().map(ma => {
      const s = ma.toString()
      return s.includes('/p2p/') ? s : `${s}/p2p/${id}`
    })
  }

  // ---- content ----

  async add (source: AddSource, options: AddOptions = {}): Promise<AddResult> {
    options.signal?.throwIfAborted()
    assertPositiveInt(options.chunkSize, 'chunkSize')
    assertPositiveInt(options.maxChildrenPerNode, 'maxChildrenPerNode')
    if (options.profile != null && options.profile !== 'kubo' && options.profile !== 'cidv1') {
      throw new InvalidArgumentError(`Unknown profile ${String(options.profile)}`)
    }
    const helia = this.helia
    const end = this.store.beginOperation()
    try {
      let bytes = 0
      const counted = async function * (): AsyncGenerator<Uint8Array> {
        for await (const chunk of toChunks(source)) {
          options.signal?.throwIfAborted()
          bytes += chunk.byteLength
          options.onProgress?.({ bytes })
          yield chunk
        }
      }
      // chunks hashed in the thread pool, bounded writes in flight; same CIDs as ipfs-unixfs-importer (import/)
      const result = await importFile(counted(), helia.blockstore, { layout: layoutFor(options), signal: options.signal })
      const size = bytes
      if (options.pin !== false) {
        if (await this.isPinned(result.cid, options)) {
          await this.recordPin(result.cid, size, options.name, options)
        } else {
          const metadata: Record<string, string | number> = { cid: result.cid.toString(), size }
          if (options.name != null) metadata.name = options.name
          for await (const _ of helia.pins.add(result.cid, { signal: options.signal, metadata, walker: importedFileWalker(result.height) })) { /* walk */ }
        }
      }
      this.init.quota?.afterWrite()
      return { cid: result.cid, size }
    } catch (err) {
      throw translateError(err, undefined, options.signal)
    } finally {
      end()
    }
  }

  async addFile (path: string, options: AddOptions = {}): Promise<AddResult> {
    options.signal?.throwIfAborted()
    let handle
    try {
      handle = await open(path, 'r')
    } catch (err: any) {
      throw new InvalidArgumentError(`Cannot read ${path}: ${err.code ?? err.message}`, { cause: err })
    }
    try {
      const chunks = readFileChunks(handle, layoutFor(options).chunkSize, options)
      return await this.add(chunks, { name: options.name ?? path.split(/[\\/]/).pop(), ...options })
    } finally {
      await handle.close()
    }
  }

  /** Pins a DAG whose blocks are all local. */
  private async recordPin (cid: CID, size: number, name: string | undefined, options: AbortOptions): Promise<void> {
    const helia = this.helia
    if (await this.isPinned(cid, options)) {
      if (name != null) {
        const pin = await helia.pins.get(cid, options)
        if (pin.metadata.name !== name) await helia.pins.setMetadata(cid, { ...pin.metadata, name }, options)
      }
      return
    }
    const metadata: Record<string, string | number> = { cid: cid.toString(), size }
    if (name != null) metadata.name = name
    for await (const _ of helia.pins.add(cid, { signal: options.signal, metadata })) { /* walk */ }
  }

  cat (cidIn: CID | string, options: CatOptions = {}): AsyncIterable<Uint8Array> {
    const cid = toCid(cidIn)
    if (options.offset != null && (!Number.isSafeInteger(options.offset) || options.offset < 0)) throw new InvalidArgumentError('offset must be a non-negative integer')
    if (options.length != null && (!Number.isSafeInteger(options.length) || options.length < 0)) throw new InvalidArgumentError('length must be a non-negative integer')
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    return (async function * () {
      const helia = self.helia
      const end = self.store.beginOperation()
      // the timeout is an inactivity timeout: it restarts whenever data arrives
      const op = operationSignal(options.signal, options.timeout)
      try {
        const reader = createLocalFirstBlockReader({
          blocksPath: self.init.blocksPath,
          fallback: async (c, o) => collect(helia.blockstore.get(c, o) as AsyncIterable<Uint8Array>)
        })
        const file = await resolveFile(cid, reader, { signal: op.signal })
        const size = file.size
        if (options.offset != null && options.offset > size) throw new RangeNotSatisfiableError(`Offset ${options.offset} is beyond the end (${size} bytes)`)
        for await (const chunk of file.content({ offset: options.offset, length: options.length, signal: op.signal })) {
          op.touch()
          yield chunk as Uint8Array
        }
      } catch (err) {
        throw translateError(err, op, options.signal)
      } finally {
        op.clear()
        end()
      }
    })()
  }

  async get (cidIn: CID | string, outputPath?: string, options: GetOptions = {}): Promise<string> {
    const cid = toCid(cidIn)
    options.signal?.throwIfAborted()
    const target = outputPath ?? join(this.init.cacheDir, cid.toString())
    await mkdir(dirname(target), { recursive: true })
    const temp = join(dirname(target), `.${cid.toString().slice(-16)}.${randomBytes(6).toString('hex')}.part`)
    let bytes = 0
    const onProgress = options.onProgress
    const source = this.cat(cid, { signal: options.signal, timeout: options.timeout })
    try {
      await writeToFile(source, temp, { signal: options.signal, onProgress: (n) => { bytes = n; onProgress?.({ bytes }) } })
      await rename(temp, target)
      return target
    } catch (err) {
      await rm(temp, { force: true })
      throw translateError(err, undefined, options.signal)
    }
  }

  async pin (cidIn: CID | string, options: PinOptions = {}): Promise<PinInfo> {
    const cid = toCid(cidIn)
    options.signal?.throwIfAborted()
    try {
      return await this.pinOnce(cid, options)
    } catch (err) {
      // refused for lack of space although the per-block retry ran gc: run gc and retry the whole pin once
      if (!isFullError(err) || this.init.quota == null || options.signal?.aborted === true) throw err
      if (!await this.init.quota.onFull()) throw err
      return this.pinOnce(cid, options)
    }
  }

  private async pinOnce (cid: CID, options: PinOptions): Promise<PinInfo> {
    const helia = this.helia
    const store = this.store
    const end = store.beginOperation()
    const op = operationSignal(options.signal, options.timeout)
    const fetched: CID[] = []
    try {
      if (await this.isPinned(cid, op)) {
        await this.recordPin(cid, 0, options.name, op)
        return await this.pinInfo(cid, op)
      }
      let bytes = 0
      let total: number | undefined
      const account = (blockCid: CID, block: Uint8Array, links: Array<{ tsize?: number }>): void => {
        if (blockCid.equals(cid)) {
          total = block.byteLength + links.reduce((n, l) => n + (l.tsize ?? 0), 0)
        }
        bytes += block.byteLength
        options.onProgress?.({ bytes, total })
      }
      // stored blocks, then whole subDAGs streamed from a peer (transfer/); what no peer sent, by bitswap
      const missing = await (this.transfer as DagTransfer).fetch(cid, {
        signal: op.signal,
        onBlock: (e) => {
          if (e.fetched) fetched.push(e.cid)
          account(e.cid, e.bytes, e.links)
        }
      }).catch((err: any) => { throw err?.name === 'LocalWriteError' ? err.cause : err })
      const concurrency = this.init.fetchConcurrency ?? 32
      const workers = Math.min(missing.length, 8)
      const walks = new AbortController()
      const stopWalks = (): void => { walks.abort(op.signal.reason) }
      op.signal.addEventListener('abort', stopWalks, { once: true })
      let walkError: { err: unknown } | undefined
      await Promise.allSettled(Array.from({ length: workers }, async () => {
        for (let subRoot = missing.shift(); subRoot != null && walkError == null; subRoot = missing.shift()) {
          await walkDag(subRoot, async (blockCid, signal) => {
            const present = await store.has(blockCid)
            const block = await fetchBlock(helia.blockstore, blockCid, {
              signal,
              blockTimeout: this.init.blockTimeout ?? 30_000,
              retries: this.init.blockRetries ?? 3,
              onRetry: async () => { await this.resetPeers() }
            })
            if (!present) fetched.push(blockCid)
            const node = await readLinks(blockCid, block, helia.getCodec as any)
            account(blockCid, block, node.links)
            return node.links.map(l => l.cid)
          }, { signal: walks.signal, concurrency: Math.max(1, Math.floor(concurrency / workers)) }).catch((err) => {
            walkError ??= { err }
            walks.abort(err)
          })
        }
      }))
      op.signal.removeEventListener('abort', stopWalks)
      if (walkError != null) throw walkError.err
      const entry = await exporter(cid, helia.blockstore, { signal: op.signal, offline: true } as any)
      const size = isUnixfsFile(entry) ? entrySize(entry) : bytes
      await this.recordPin(cid, size, options.name, op)
      this.init.quota?.afterWrite()
      return { cid, size, ...(options.name != null ? { name: options.name } : {}) }
    } catch (err) {
      await this.dropUnpinned(fetched)
      if (err instanceof BlockTimeoutError) throw new ContentNotFoundError(`${cid} not found from workspace peers`, { cause: err })
      throw translateError(err, op, options.signal)
    } finally {
      op.clear()
      end()
    }
  }

  /** Deletes blocks a failed pin fetched, unless another pin references them. */
  private async dropUnpinned (cids: CID[]): Promise<void> {
    const helia = this.heliaNode
    const store = this.blockstore
    if (helia == null || store == null) return
    for (const c of cids) {
      try {
        if (!await helia.pins.isPinned(c)) await store.child.delete(c)
      } catch {}
    }
  }

  private async pinInfo (cid: CID, options: AbortOptions = {}): Promise<PinInfo> {
    const pin = await this.helia.pins.get(cid, options)
    const name = pin.metadata.name
    return { cid, size: Number(pin.metadata.size ?? 0), ...(typeof name === 'string' ? { name } : {}) }
  }

  async unpin (cidIn: CID | string, options: AbortOptions = {}): Promise<void> {
    const cid = toCid(cidIn)
    options.signal?.throwIfAborted()
    if (!await this.isPinned(cid, options)) throw new NotPinnedError(`${cid} is not pinned`)
    try {
      for await (const _ of this.helia.pins.rm(cid, { signal: options.signal })) { /* walk */ }
    } catch (err) {
      throw translateError(err, undefined, options.signal)
    }
  }

  async isPinned (cidIn: CID | string, options: AbortOptions = {}): Promise<boolean> {
    const cid = toCid(cidIn)
    try {
      await this.helia.pins.get(cid, options)
      return true
    } catch (err: any) {
      if (err?.name === 'NotFoundError') return false
      throw translateError(err, undefined, options.signal)
    }
  }

  async pins (options: AbortOptions = {}): Promise<PinInfo[]> {
    const out: PinInfo[] = []
    for await (const pin of this.helia.pins.ls({ signal: options.signal })) {
      const original = typeof pin.metadata.cid === 'string' ? toCid(pin.metadata.cid) : pin.cid
      const name = pin.metadata.name
      out.push({ cid: original, size: Number(pin.metadata.size ?? 0), ...(typeof name === 'string' ? { name } : {}) })
    }
    return out
  }

  async stat (cidIn: CID | string, options: AbortOptions & { timeout?: number, offline?: boolean } = {}): Promise<StatResult> {
    const cid = toCid(cidIn)
    const helia = this.helia
    const store = this.store
    const op = operationSignal(options.signal, options.timeout)
    const end = store.beginOperation()
    try {
      // the root may come from peers (unless offline); the rest of the DAG is only looked at locally
      const rootBytes = options.offline === true
        ? await collect(store.get(cid) as AsyncIterable<Uint8Array>).catch(() => { throw new ContentNotFoundError(`${cid} is not stored locally`) })
        : await collect(helia.blockstore.get(cid, { signal: op.signal }) as AsyncIterable<Uint8Array>)
      let size = rootBytes.byteLength
      if (cid.code === 0x70) {
        const entry = await exporter(cid, helia.blockstore, { signal: op.signal, offline: true } as any)
        size = isUnixfsFile(entry) ? entrySize(entry) : rootBytes.byteLength
      }
      let dagSize = 0
      let blocks = 0
      let local = true
      const queue: Array<{ cid: CID, tsize?: number }> = [{ cid }]
      const seen = new Set<string>()
      while (queue.length > 0) {
        op.signal.throwIfAborted()
        const item = queue.pop() as { cid: CID, tsize?: number }
        const k = mhKey(item.cid)
        if (seen.has(k)) continue
        seen.add(k)
        if (!await store.has(item.cid)) {
          local = false
          dagSize += item.tsize ?? 0
          continue
        }
        const bytes = await collect(store.get(item.cid) as AsyncIterable<Uint8Array>)
        blocks++
        dagSize += bytes.byteLength
        const node = await readLinks(item.cid, bytes, helia.getCodec as any)
        for (const l of node.links) queue.push(l)
      }
      const pinned = await this.isPinned(cid, op)
      return { cid, size, dagSize, blocks, local, pinned }
    } catch (err) {
      throw translateError(err, op, options.signal)
    } finally {
      op.clear()
      end()
    }
  }

  /**
   * Deletes every block that is not pinned and not in use by an operation in
   * flight. Does not take Helia's blockstore lock (see GuardedBlockstore).
   */
  async gc (options: AbortOptions = {}): Promise<GcResult> {
    options.signal?.throwIfAborted()
    if (this.gcRunning != null) return this.gcRunning
    const run = this.runGc(options)
    this.gcRunning = run
    try {
      return await run
    } finally {
      this.gcRunning = undefined
    }
  }

  private async runGc (options: AbortOptions): Promise<GcResult> {
    const helia = this.helia
    const store = this.store
    const before = store.child.used
    let removed = 0
    let freedCounted = 0
    const candidates: CID[] = []
    for await (const { cid } of store.getAll({ signal: options.signal })) {
      if (store.isProtected(cid)) continue
      if (await helia.pins.isPinned(cid, options)) continue
      candidates.push(cid)
    }
    for (const cid of candidates) {
      options.signal?.throwIfAborted()
      // check again: an operation may have started using it meanwhile
      if (store.isProtected(cid) || await helia.pins.isPinned(cid, options)) continue
      if (before == null) {
        try { freedCounted += (await collect(store.child.get(cid) as AsyncIterable<Uint8Array>)).byteLength } catch {}
      }
      try {
        await store.child.delete(cid, options)
        removed++
      } catch {}
    }
    const after = store.child.used
    const freedBytes = before != null && after != null ? Math.max(0, before - after) : freedCounted
    return { removed, freedBytes }
  }

  async verify (options: AbortOptions = {}): Promise<VerifyResult> {
    const helia = this.helia
    const store = this.store
    options.signal?.throwIfAborted()
    let checked = 0
    const corrupt: CID[] = []
    for await (const { cid, bytes } of store.getAll({ signal: options.signal })) {
      checked++
      let ok = false
      try {
        const data = await collect(bytes)
        const hasher = await helia.getHasher(cid.multihash.code)
        const digest = await hasher.digest(data)
        ok = Buffer.compare(Buffer.from(digest.bytes), Buffer.from(cid.multihash.bytes)) === 0
      } catch {}
      if (!ok) {
        corrupt.push(cid)
        try { await store.child.delete(cid) } catch {}
      }
    }
    const refetched: CID[] = []
    const failed: CID[] = []
    for (const pin of await this.pins(options)) {
      if (await this.isComplete(pin.cid, options)) continue
      try {
        await this.refetch(pin.cid, options)
        refetched.push(pin.cid)
      } catch (err) {
        if (options.signal?.aborted === true) throw new AbortedError('verify aborted', { cause: err })
        failed.push(pin.cid)
      }
    }
    return { checked, corrupt, refetched, failed }
  }

  private async isComplete (root: CID, options: AbortOptions): Promise<boolean> {
    const store = this.store
    const queue = [root]
    const seen = new Set<string>()
    while (queue.length > 0) {
      options.signal?.throwIfAborted()
      const cid = queue.pop() as CID
      const k = mhKey(cid)
      if (seen.has(k)) continue
      seen.add(k)
      if (!await store.has(cid)) return false
      const bytes = await collect(store.get(cid) as AsyncIterable<Uint8Array>)
      const node = await readLinks(cid, bytes, this.helia.getCodec as any)
      for (const l of node.links) queue.push(l.cid)
    }
    return true
  }

  /** Fetches the missing blocks of a pinned DAG again from peers. */
  private async refetch (root: CID, options: AbortOptions): Promise<void> {
    const helia = this.helia
    const end = this.store.beginOperation()
    try {
      const signal = options.signal ?? new AbortController().signal
      await walkDag(root, async (cid, s) => {
        const block = await fetchBlock(helia.blockstore, cid, { signal: s, blockTimeout: this.init.blockTimeout ?? 30_000, retries: this.init.blockRetries ?? 3, onRetry: async () => { await this.resetPeers() } })
        return (await readLinks(cid, block, helia.getCodec as any)).links.map(l => l.cid)
      }, { signal, concurrency: this.init.fetchConcurrency ?? 32 })
    } finally {
      end()
    }
  }

  // ---- network ----

  private resetting?: Promise<void>
  private lastReset = 0

  /**
   * Reconnects every connected peer. A bitswap peer that already sent us a
   * block ignores a new want for it (its ledger keeps the old want as "sent"
   * and our side never sends the cancel), so a block deleted after a failed pin
   * or by verify could never be fetched from that peer again; a want lost in
   * transit stalls the same way. Reconnecting drops both ledgers and bitswap
   * resends the whole wantlist. At most once per block timeout.
   */
  private async resetPeers (): Promise<void> {
    if (this.resetting != null) return this.resetting
    if (Date.now() - this.lastReset < (this.init.blockTimeout ?? 30_000) / 2) return
    this.lastReset = Date.now()
    const libp2p = this.libp2p
    this.resetting = (async () => {
      const peers = [...new Set(libp2p.getConnections().map(c => c.remotePeer))]
      await Promise.allSettled(peers.map(async peer => {
        await libp2p.hangUp(peer)
        await libp2p.dial(peer, { signal: AbortSignal.timeout(this.init.dialTimeout ?? 5000) })
      }))
    })().finally(() => { this.resetting = undefined })
    return this.resetting
  }

  async connect (address: string, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    let ma
    try {
      ma = multiaddr(address)
    } catch (err) {
      throw new InvalidArgumentError(`Invalid multiaddr ${JSON.stringify(address)}`, { cause: err })
    }
    try {
      const conn = await this.libp2p.dial(ma, { signal: options.signal })
      // remember the peer so libp2p reconnects to it (and redials after a restart)
      try {
        await this.libp2p.peerStore.merge(conn.remotePeer, {
          multiaddrs: [ma.decapsulateCode(421)],
          tags: { 'keep-alive-workspace': { value: 50 } }
        })
      } catch {}
    } catch (err) {
      if (options.signal?.aborted === true || isAbortError(err)) throw new AbortedError(`Dial to ${address} aborted or timed out`, { cause: err })
      throw new StorageError(`Could not connect to ${address}: ${(err as Error).message}`, { cause: err })
    }
  }

  peers (): PeerInfo[] {
    const byPeer = new Map<string, Set<string>>()
    for (const conn of this.libp2p.getConnections()) {
      const id = conn.remotePeer.toString()
      const set = byPeer.get(id) ?? new Set<string>()
      set.add(conn.remoteAddr.toString())
      byPeer.set(id, set)
    }
    return [...byPeer].map(([peerId, addrs]) => ({ peerId, addresses: [...addrs] }))
  }

  async stats (options: AbortOptions = {}): Promise<WorkspaceNodeStats> {
    const store = this.store
    const [blocks, pins] = await Promise.all([countBlocks(this.init.blocksPath, options), this.pins(options)])
    const usage = this.init.quota?.usage()
    return {
      workspaceId: this.workspaceId,
      peerId: this.peerId,
      repoBytes: store.child.used ?? 0,
      blocks,
      pins: pins.length,
      peers: this.peers().length,
      quotaBytes: usage?.limit ?? Infinity,
      quotaUsedBytes: usage?.used ?? store.child.used ?? 0,
      driveFreeBytes: await (this.init.quota?.driveFreeBytes() ?? Promise.resolve(NaN))
    }
  }
}

/** Counts block files (`*.data`) without reading them. */
async function countBlocks (dir: string, options: AbortOptions): Promise<number> {
  let n = 0
  const dirs = [dir]
  while (dirs.length > 0) {
    options.signal?.throwIfAborted()
    const d = dirs.pop() as string
    let entries
    try {
      entries = await readdir(d, { withFileTypes: true })
    } catch { continue }
    for (const e of entries) {
      if (e.isDirectory()) dirs.push(join(d, e.name))
      else if (e.name.endsWith('.data')) n++
    }
  }
  return n
}

/** The running workspace node, with the internals the storage node and tests need. */
export interface ManagedWorkspaceNode extends WorkspaceNode {
  /** @internal the Helia node (tests inspect its routers and brokers) */
  readonly helia: Helia & { libp2p: Libp2p }
  readonly isRunning: boolean
  start(): Promise<void>
  stop(): Promise<void>
  dialPeers(peers: string[], options?: AbortOptions): Promise<void>
}

/**
 * Creates (not started) a workspace node. The storage node is the usual way to
 * get one; use this directly for a single workspace without a shared quota.
 */
export function createWorkspaceNode (init: WorkspaceNodeInit): ManagedWorkspaceNode {
  return new DefaultWorkspaceNode(init)
}
