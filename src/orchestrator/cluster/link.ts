/**
 * What the orchestrator core needs of the other instances on the same
 * database. One instance alone (SQLite, or PostgreSQL without peers) uses
 * {@link singleInstance}: it leads, and every node it can reach is its own.
 * Several instances on PostgreSQL use `createPostgresLink` (`postgres-link.ts`):
 * the leader lease decides who places, the bus carries messages for nodes held
 * elsewhere and the "placement needed" hints.
 */
import type { OrchestratorMessage } from '../../protocol/index.js'

export interface ClusterLink {
  /** `true` when other instances may share the database. */
  readonly clustered: boolean
  /** Whether this instance places pins and re-pins now (the lease holder). */
  isLeader(): boolean
  /** A message for a node whose session is not on this instance (dropped when nobody holds it). */
  sendRemote(nodeId: string, message: OrchestratorMessage): void
  /** Something changed in a workspace (or in one pin of it) that the leader should place (a no-op when this instance leads). */
  placementNeeded(workspaceId: string, cid?: string): void
  /** A node authenticated on this instance: messages for it come here now. */
  nodeHeld(nodeId: string): void
  /** A node held here sent `ipfs_ready` in a workspace. */
  nodeReady(workspaceId: string, nodeId: string, addresses: string[]): void
  /** A node is no longer ready in a workspace (it left it). */
  nodeNotReady(workspaceId: string, nodeId: string): void
  /** A node's session on this instance ended. */
  nodeReleased(nodeId: string): void
  /** A workspace's members changed (`joined`: a node that joined and has no session here). */
  membersChanged(workspaceId: string, joined?: string): void
  /** A workspace has a new swarm key: the other instances send it to their sessions. */
  keyRotated(workspaceId: string): void
  /** The nodes online on any instance; `undefined` when only this instance's sessions count. */
  onlineNodes(): Promise<ReadonlySet<string> | undefined>
}

/** The link of an orchestrator that is alone on its database. */
export const singleInstance: ClusterLink = {
  clustered: false,
  isLeader: () => true,
  sendRemote: () => {},
  placementNeeded: () => {},
  nodeHeld: () => {},
  nodeReleased: () => {},
  nodeReady: () => {},
  nodeNotReady: () => {},
  membersChanged: () => {},
  keyRotated: () => {},
  onlineNodes: async () => undefined
}
