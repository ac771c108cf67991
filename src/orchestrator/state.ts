/**
 * The orchestrator's live state: what is not in the database because it only
 * holds while this process runs (sessions, readiness, announced addresses,
 * free space since the last report, when nodes went offline). The store is
 * the source of truth for everything else; `members` mirrors its memberships.
 */
import type { PlacementSnapshot } from './planner.js'

/** A node's connection as the orchestrator sees it (a WebSocket in production, anything in tests). */
export interface NodeConnection {
  send(data: string, callback?: (err?: Error) => void): void
  close(code: number, reason: string): void
  isOpen(): boolean
}

export interface NodeSession {
  readonly connection: NodeConnection
  /** Set once `hello` is accepted. */
  nodeId: string | null
  /** Workspaces whose node has sent `ipfs_ready` for the current key. */
  readonly ready: Set<string>
}

export class LiveState {
  /** Authenticated sessions by node id. */
  readonly sessions = new Map<string, NodeSession>()
  /** Member node ids per workspace (mirror of the memberships table). */
  readonly members = new Map<string, Set<string>>()
  /** Ready node ids per workspace. */
  readonly ready = new Map<string, Set<string>>()
  /** Announced addresses of ready nodes, per workspace. */
  readonly peerAddrs = new Map<string, Map<string, string[]>>()
  /** Free bytes per node: last report minus what was allocated since. */
  readonly free = new Map<string, number>()
  /** When each offline node went offline (or when this orchestrator started). */
  readonly offlineSince = new Map<string, number>()
  /**
   * Nodes online on other instances sharing the database (empty alone). Their
   * readiness and addresses are in `ready` / `peerAddrs` too, as `remoteReady` lists.
   */
  readonly remoteOnline = new Set<string>()
  /** The entries of `ready` that belong to other instances' nodes, per workspace. */
  readonly remoteReady = new Map<string, Set<string>>()
  readonly startedAt: number
  readonly repinGraceMs: number

  constructor (startedAt: number, repinGraceMs: number) {
    this.startedAt = startedAt
    this.repinGraceMs = repinGraceMs
  }

  isOnline (nodeId: string): boolean {
    return this.sessions.has(nodeId) || this.remoteOnline.has(nodeId)
  }

  /**
   * Replaces what is known of other instances' nodes: who is online, and
   * who is ready in which workspace with which addresses. Local sessions win.
   */
  setRemote (online: ReadonlySet<string>, ready: ReadonlyMap<string, ReadonlyMap<string, string[]>>): void {
    // in place (no clear and refill of thousands of entries a second)
    for (const id of this.remoteOnline) if (!online.has(id) || this.sessions.has(id)) this.remoteOnline.delete(id)
    for (const id of online) if (!this.sessions.has(id)) this.remoteOnline.add(id)
    // only what changed is touched: this runs every refresh, on every instance, over every node
    for (const [ws, ids] of this.remoteReady) {
      const now = ready.get(ws)
      for (const id of ids) {
        if (now?.has(id) === true && this.remoteOnline.has(id)) continue
        ids.delete(id)
        if (this.sessions.has(id)) continue
        this.ready.get(ws)?.delete(id)
        this.peerAddrs.get(ws)?.delete(id)
      }
      if (ids.size === 0) this.remoteReady.delete(ws)
    }
    for (const [ws, nodes] of ready) {
      let ids = this.remoteReady.get(ws)
      for (const [id, addrs] of nodes) {
        if (this.sessions.has(id) || !this.remoteOnline.has(id)) continue
        if (ids == null) this.remoteReady.set(ws, ids = new Set())
        if (ids.has(id) && this.ready.get(ws)?.has(id) === true && this.peerAddrs.get(ws)?.get(id) === addrs) continue
        ids.add(id)
        this.markReady(ws, id, addrs)
      }
    }
  }

  isMember (workspaceId: string, nodeId: string): boolean {
    return this.members.get(workspaceId)?.has(nodeId) === true
  }

  /** Marks a node ready in a workspace with its addresses. */
  setReady (session: NodeSession, workspaceId: string, nodeId: string, addresses: string[]): void {
    session.ready.add(workspaceId)
    this.markReady(workspaceId, nodeId, addresses)
  }

  /** Records a node as ready in a workspace, with its addresses (a session here or on another instance). */
  private markReady (workspaceId: string, nodeId: string, addresses: string[]): void {
    let ready = this.ready.get(workspaceId)
    if (ready == null) this.ready.set(workspaceId, ready = new Set())
    ready.add(nodeId)
    let addrs = this.peerAddrs.get(workspaceId)
    if (addrs == null) this.peerAddrs.set(workspaceId, addrs = new Map())
    addrs.set(nodeId, addresses)
  }

  /** Forgets a node's readiness in one workspace. */
  dropReadyIn (workspaceId: string, nodeId: string): void {
    this.ready.get(workspaceId)?.delete(nodeId)
    this.peerAddrs.get(workspaceId)?.delete(nodeId)
    this.sessions.get(nodeId)?.ready.delete(workspaceId)
  }

  /** Forgets a session's readiness everywhere. */
  dropReady (nodeId: string, session: NodeSession): void {
    for (const ws of session.ready) {
      this.ready.get(ws)?.delete(nodeId)
      this.peerAddrs.get(ws)?.delete(nodeId)
    }
    session.ready.clear()
  }

  /** Takes `bytes` off a node's known free space (an allocation was made). */
  reserve (nodeId: string, bytes: number | null | undefined): void {
    const free = this.free.get(nodeId)
    if (free !== undefined && bytes != null) this.free.set(nodeId, Math.max(0, free - bytes))
  }

  /** The planner's view of one workspace (views over the live maps, nothing copied). */
  snapshot (members: ReadonlySet<string>, workspaceId: string): PlacementSnapshot {
    return {
      members,
      ready: this.ready.get(workspaceId) ?? [],
      isOnline: (nodeId) => this.isOnline(nodeId),
      offlineSince: this.offlineSince,
      startedAt: this.startedAt,
      repinGraceMs: this.repinGraceMs,
      free: this.free
    }
  }

  clear (): void {
    this.sessions.clear()
    this.members.clear()
    this.ready.clear()
    this.peerAddrs.clear()
    this.free.clear()
    this.offlineSince.clear()
    this.remoteOnline.clear()
    this.remoteReady.clear()
  }
}
