/**
 * The workspace gateway: an embedded storage node on the orchestrator's side.
 * It joins each workspace with its swarm key (kept in memory by the node),
 * imports browser uploads (streamed, checked against its own quota and the
 * members' free space), files and folders alike, asks the orchestrator to place the pin on member
 * nodes (normal replication rules), and serves downloads from the swarm.
 *
 * It dials the workspace's online members itself, on join and whenever one
 * becomes ready, so members can fetch uploads from it over bitswap. Once the
 * members hold `replicationMin` copies it drops its own pin (unless
 * `keepUploads`), so its quota is only a staging area.
 */
import { ConflictError, InvalidArgumentError, QuotaExceededError } from '../errors.js'
import type { AbortOptions, AddAllEntry, AddedEntry, AddSource, WorkspaceNode } from '../node/types.js'
import type { OrchestratorEvent, OrchestratorLogger, PinStatus } from '../orchestrator/types.js'
import type { GatewayWorkspaceInfo, UploadFolderOptions, UploadFolderResult, UploadOptions, UploadResult, WorkspaceGateway, WorkspaceGatewayInit } from './types.js'

/**
 * Creates the gateway over a started storage node.
 *
 * @example
 * ```ts
 * const gateway = createWorkspaceGateway({
 *   storageNode: await createStorageNode({ storagePath: './gateway', quotaBytes: 10 * 2 ** 30, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] }),
 *   orchestrator // keys come from orchestrator.swarmKeyFor (in memory)
 * })
 * const { cid } = await gateway.upload('ws-1', fs.createReadStream('report.pdf'), { name: 'report.pdf' })
 * ```
 */
export function createWorkspaceGateway (init: WorkspaceGatewayInit): WorkspaceGateway {
  return new DefaultGateway(init)
}

class DefaultGateway implements WorkspaceGateway {
  readonly storageNode: WorkspaceGatewayInit['storageNode']
  readonly #init: WorkspaceGatewayInit
  readonly #swarmKey: NonNullable<WorkspaceGatewayInit['swarmKey']>
  readonly #joins = new Map<string, Promise<WorkspaceNode>>()
  /** `${workspace} ${cid}` of uploads whose local pin waits for the members' copies. */
  readonly #staged = new Map<string, { workspaceId: string, cid: string, min: number }>()
  readonly #unsubscribe: () => void
  readonly #log: OrchestratorLogger
  #stopped = false

  constructor (init: WorkspaceGatewayInit) {
    this.#init = init
    this.#log = init.logger ?? { debug () {}, info () {}, warn () {}, error () {} }
    this.storageNode = init.storageNode
    const swarmKey = init.swarmKey ?? (init.orchestrator.swarmKeyFor != null ? init.orchestrator.swarmKeyFor.bind(init.orchestrator) : undefined)
    if (swarmKey == null) throw new InvalidArgumentError('swarmKey is required when the orchestrator has no swarmKeyFor')
    this.#swarmKey = swarmKey
    this.#unsubscribe = init.orchestrator.onChange(event => { this.#onEvent(event) })
  }

  async join (workspaceId: string, options: AbortOptions = {}): Promise<WorkspaceNode> {
    options.signal?.throwIfAborted()
    if (this.#stopped) throw new ConflictError('Gateway stopped')
    let joining = this.#joins.get(workspaceId)
    if (joining == null) {
      joining = (async () => {
        const status = await this.#init.orchestrator.workspaceStatus(workspaceId)
        const key = await this.#swarmKey(workspaceId)
        return await this.storageNode.join(workspaceId, key, { bootstrapPeers: this.#memberAddresses(status.nodes) })
      })()
      this.#joins.set(workspaceId, joining)
      joining.catch((err: Error) => {
        this.#log.warn({ workspaceId, err: err.message }, 'gateway join failed')
        this.#joins.delete(workspaceId)
      })
    }
    return await joining
  }

  async upload (workspaceId: string, source: AddSource, options: UploadOptions = {}): Promise<UploadResult> {
    options.signal?.throwIfAborted()
    const min = options.replicationMin ?? this.#init.replication ?? 2
    const max = options.replicationMax ?? min
    if (options.size != null) await this.#checkRoom(workspaceId, options.size, min)
    const node = await this.join(workspaceId, options)
    const added = await node.add(source, { name: options.name, pin: true, signal: options.signal })
    const cid = added.cid.toString()
    const pin = await this.#place(node, workspaceId, cid, added.size, { name: options.name, min, max, checkRoom: options.size == null })
    return { cid, size: added.size, pin }
  }

  async uploadFolder (workspaceId: string, source: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>, options: UploadFolderOptions = {}): Promise<UploadFolderResult> {
    options.signal?.throwIfAborted()
    const min = options.replicationMin ?? this.#init.replication ?? 2
    const max = options.replicationMax ?? min
    const node = await this.join(workspaceId, options)
    let root: AddedEntry | undefined
    let entries = 0
    for await (const added of node.addAll(source, {
      pin: true,
      signal: options.signal,
      wrapWithDirectory: options.wrapWithDirectory,
      hidden: options.hidden,
      fileConcurrency: options.fileConcurrency
    })) {
      entries++
      root = added
    }
    if (root == null) throw new InvalidArgumentError('The upload holds no file')
    const cid = root.cid.toString()
    const name = options.name ?? (root.path !== '' ? root.path : 'folder')
    const pin = await this.#place(node, workspaceId, cid, root.size, { name, min, max, checkRoom: true })
    return { cid, size: root.size, entries, name, pin }
  }

  /**
   * After an upload is added and pinned here: checks that `min` members can
   * hold it (else drops the local pin and throws), stages it so that the
   * local pin is dropped once the members hold their copies (or the pin is
   * removed), and asks the orchestrator to place it. Files and folders alike.
   */
  async #place (node: WorkspaceNode, workspaceId: string, cid: string, size: number, opts: { name?: string, min: number, max: number, checkRoom: boolean }): Promise<PinStatus> {
    try {
      if (opts.checkRoom) await this.#checkRoom(workspaceId, size, opts.min)
    } catch (err) {
      await node.unpin(cid).catch((e: Error) => { this.#log.warn({ workspaceId, cid, err: e.message }, 'dropping a refused upload failed') })
      throw err
    }
    if (this.#init.keepUploads !== true) this.#staged.set(`${workspaceId} ${cid}`, { workspaceId, cid, min: opts.min })
    const pin = await this.#init.orchestrator.pin(workspaceId, { cid, name: opts.name, size, replicationMin: opts.min, replicationMax: opts.max })
    void this.#release(workspaceId, cid)
    return pin
  }

  async * cat (workspaceId: string, cid: string, options: AbortOptions & { timeout?: number } = {}): AsyncIterable<Uint8Array> {
    const node = await this.join(workspaceId, options)
    yield * node.cat(cid, { signal: options.signal, timeout: options.timeout ?? this.#init.fetchTimeoutMs ?? 60_000 })
  }

  workspaces (): GatewayWorkspaceInfo[] {
    return this.storageNode.workspaces().map(n => ({ workspaceId: n.workspaceId, peerId: n.peerId, addresses: n.multiaddrs(), keyFingerprint: n.keyFingerprint }))
  }

  bootstrapAddresses (workspaceId: string): string[] {
    return this.#joined(workspaceId)?.multiaddrs() ?? []
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#unsubscribe()
    await Promise.allSettled([...this.#joins.values()])
    this.#joins.clear()
    this.#staged.clear()
    if (this.#init.ownsStorageNode !== false) await this.storageNode.stop()
  }

  /** Refuses an upload that no `min` members could hold (nodes that never reported count as fitting). */
  async #checkRoom (workspaceId: string, size: number, min: number): Promise<void> {
    const { nodes } = await this.#init.orchestrator.workspaceStatus(workspaceId)
    if (nodes.length === 0) throw new ConflictError('This workspace has no storage node yet: add one before uploading')
    const fitting = nodes.filter(n => n.storage == null || n.storage.free >= size)
    if (fitting.length >= Math.min(min, nodes.length)) return
    const best = nodes.reduce((a, b) => ((b.storage?.free ?? 0) > (a.storage?.free ?? 0) ? b : a))
    const used = best.storage?.used ?? 0
    const limit = best.storage?.quota ?? 0
    throw new QuotaExceededError(used, limit, size,
      `Not enough room: ${size} bytes need ${min} node(s) with that much free space, the most free on any node is ${best.storage?.free ?? 0} bytes`)
  }

  #memberAddresses (nodes: Array<{ online: boolean, addresses: string[] }>): string[] {
    return nodes.filter(n => n.online).flatMap(n => n.addresses)
  }

  #joined (workspaceId: string): WorkspaceNode | undefined {
    // not joined (yet) is a normal answer here, not an error
    return this.storageNode.workspaces().find(n => n.workspaceId === workspaceId)
  }

  #onEvent (event: OrchestratorEvent): void {
    if (this.#stopped) return
    switch (event.type) {
      case 'peer:ready': {
        const node = this.#joined(event.workspaceId)
        if (node == null) return
        for (const address of event.addresses) {
          node.connect(address).catch((err: Error) => { this.#log.debug({ workspaceId: event.workspaceId, address, err: err.message }, 'gateway could not dial a member') })
        }
        return
      }
      case 'workspace:key-rotated': {
        if (this.#joined(event.workspaceId) == null) return
        const workspaceId = event.workspaceId
        const rejoin = (async () => {
          const key = await this.#swarmKey(workspaceId)
          const status = await this.#init.orchestrator.workspaceStatus(workspaceId)
          return await this.storageNode.rotateKey(workspaceId, key, { bootstrapPeers: this.#memberAddresses(status.nodes) })
        })()
        this.#joins.set(workspaceId, rejoin)
        rejoin.catch((err: Error) => {
          this.#log.warn({ workspaceId, err: err.message }, 'gateway key rotation failed')
          this.#joins.delete(workspaceId)
        })
        return
      }
      case 'allocation':
        if (event.state === 'pinned') void this.#release(event.workspaceId, event.cid)
        return
      case 'pin:removed':
        void this.#release(event.workspaceId, event.cid, true)
    }
  }

  /** Drops the gateway's own pin of a staged upload once the members hold enough copies (or the pin is gone). */
  async #release (workspaceId: string, cid: string, removed = false): Promise<void> {
    const key = `${workspaceId} ${cid}`
    const staged = this.#staged.get(key)
    if (staged == null) return
    if (!removed) {
      try {
        const status = await this.#init.orchestrator.pinStatus(workspaceId, cid)
        if (status.copies < staged.min) return
      } catch (err) {
        // the pin is gone: release
        this.#log.debug({ workspaceId, cid, err: (err as Error).message }, 'staged upload has no pin any more')
      }
    }
    this.#staged.delete(key)
    await this.#joined(workspaceId)?.unpin(cid).catch((err: Error) => { this.#log.warn({ workspaceId, cid, err: err.message }, 'dropping the gateway copy failed') })
  }
}
