/**
 * Peer bootstrap: which addresses a node gets in `workspace_joined`, and the
 * coalesced `bootstrap_update`s that tell ready members about nodes that
 * became ready (at most one message per recipient per {@link BOOTSTRAP_COALESCE_MS},
 * to at most `maxBootstrapPeers` recipients, each a random sample).
 */
import { parseSwarmKey } from '../swarm-key/index.js'
import { MAX_PEER_ADDRESSES, multiaddrSchema } from '../protocol/index.js'
import type { OrchestratorContext, Scope } from './context.js'
import type { NodeSession } from './state.js'
import type { TimerHandle } from './clock.js'

/** `bootstrap_update`s of one workspace go out at most this often: the nodes that became ready meanwhile, in one message. */
export const BOOTSTRAP_COALESCE_MS = 100

export class Bootstrap {
  readonly #ctx: OrchestratorContext
  /** Nodes that became ready since the last flush, per workspace. */
  readonly #pending = new Map<string, Set<string>>()
  #timer: TimerHandle | undefined

  constructor (ctx: OrchestratorContext) {
    this.#ctx = ctx
  }

  /** Sends `workspace_joined` (key and bootstrap peers) to a member's session (after `s` commits). */
  async sendJoined (s: Scope, session: NodeSession, workspaceId: string): Promise<void> {
    const ws = await s.db.getWorkspace(workspaceId)
    if (ws == null || session.nodeId == null || !this.#ctx.state.isMember(workspaceId, session.nodeId)) return
    s.send(session, {
      type: 'workspace_joined',
      workspace_id: ws.id,
      ipfs_swarm_key: ws.swarm_key,
      bootstrap_peers: [...this.extraPeers(ws.id), ...this.onlinePeerAddresses(ws.id, session.nodeId)],
      key_version: ws.key_version
    })
    this.#ctx.log.info({ nodeId: session.nodeId, workspaceId: ws.id, keyVersion: ws.key_version, keyFingerprint: parseSwarmKey(ws.swarm_key).fingerprint }, 'sent workspace key')
  }

  /** Sends the always-on peers to the workspace's ready members now. */
  announce (workspaceId: string): void {
    const extra = this.extraPeers(workspaceId)
    if (extra.length === 0) return
    for (const nodeId of this.#ctx.state.ready.get(workspaceId) ?? []) {
      this.#ctx.sendToNow(nodeId, { type: 'bootstrap_update', workspace_id: workspaceId, peers: extra })
    }
  }

  /** Addresses of up to `maxBootstrapPeers` other ready members (a random sample when there are more). */
  onlinePeerAddresses (workspaceId: string, exceptNodeId: string): string[] {
    const peers = this.#ctx.state.peerAddrs.get(workspaceId)
    if (peers == null || peers.size === 0) return []
    const ids = sample([...peers.keys()].filter(id => id !== exceptNodeId), this.#ctx.settings.maxBootstrapPeers)
    return ids.flatMap(id => peers.get(id) ?? [])
  }

  /** Always-on peers of a workspace (`extraBootstrapPeers`), valid full multiaddrs only. */
  extraPeers (workspaceId: string): string[] {
    const out: string[] = []
    try {
      const extra = this.#ctx.settings.extraBootstrapPeers
      if (extra != null) out.push(...extra(workspaceId))
    } catch (err) {
      this.#ctx.log.warn({ workspaceId, err: (err as Error).message }, 'extra bootstrap peers failed')
    }
    return [...new Set(out)].filter(a => a.includes('/p2p/') && multiaddrSchema.safeParse(a).success).slice(0, MAX_PEER_ADDRESSES)
  }

  /** Queues a newly ready node for the workspace's next `bootstrap_update`. */
  queue (workspaceId: string, nodeId: string): void {
    let pending = this.#pending.get(workspaceId)
    if (pending == null) this.#pending.set(workspaceId, pending = new Set())
    pending.add(nodeId)
    if (this.#timer != null) return
    this.#timer = this.#ctx.later(BOOTSTRAP_COALESCE_MS, () => {
      this.#timer = undefined
      this.flush()
    })
  }

  /** Tells up to `maxBootstrapPeers` ready members of each workspace about the nodes that became ready since the last flush. */
  flush (): void {
    const { state, settings } = this.#ctx
    const pending = [...this.#pending]
    this.#pending.clear()
    for (const [workspaceId, fresh] of pending) {
      const addrs = state.peerAddrs.get(workspaceId)
      const ready = state.ready.get(workspaceId)
      if (addrs == null || ready == null) continue
      const freshIds = [...fresh].filter(id => addrs.has(id))
      if (freshIds.length === 0) continue
      for (const nodeId of sample([...ready], settings.maxBootstrapPeers)) {
        const session = state.sessions.get(nodeId)
        if (session == null) continue
        const peers = sample(freshIds.filter(id => id !== nodeId), settings.maxBootstrapPeers).flatMap(id => addrs.get(id) ?? [])
        if (peers.length > 0) this.#ctx.sendNow(session, { type: 'bootstrap_update', workspace_id: workspaceId, peers })
      }
    }
  }

  close (): void {
    this.#pending.clear()
    this.#ctx.cancel(this.#timer)
    this.#timer = undefined
  }
}

/** Up to `n` distinct items of `items`, in random order when there are more (shuffles `items` in place). */
export function sample<T> (items: T[], n: number): T[] {
  if (items.length <= n) return items
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (items.length - i))
    const t = items[i]; items[i] = items[j]; items[j] = t
  }
  return items.slice(0, n)
}
