/**
 * What the client does with the workspace messages: `workspace_joined`
 * (join, or rotate the key, then `ipfs_ready` and `pin_sync`),
 * `workspace_left` and `bootstrap_update`. Each runs after the workspace's
 * earlier lifecycle step (the client chains them).
 */
import { parseSwarmKey } from '../swarm-key/index.js'
import { MAX_PEER_ADDRESSES, multiaddrSchema } from '../protocol/index.js'
import type { BootstrapUpdateMessage, NodeMessage, WorkspaceJoinedMessage, WorkspaceLeftMessage } from '../protocol/index.js'
import type { StorageNode, WorkspaceNode } from '../node/types.js'
import { dialAll } from './pins.js'
import type { ClientEvent, ClientLogger } from './types.js'

export interface WorkspaceContext {
  node: StorageNode
  log: ClientLogger
  signal: AbortSignal
  /** Key version last applied per workspace (memory only). */
  keyVersions: Map<string, number>
  filterAddresses?: (addresses: string[]) => string[]
  /** Whether the connection the message came on is still the client's. */
  current(): boolean
  send(message: NodeMessage): void
  emit(event: ClientEvent): void
  /** Something changed that the next storage report should carry. */
  changed(): void
}

/** The joined workspace node, or `undefined` (a lookup failure other than "not joined" is logged). */
export function lookupWorkspace (node: StorageNode, workspaceId: string, log: ClientLogger): WorkspaceNode | undefined {
  try {
    return node.workspace(workspaceId)
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_WORKSPACE_NOT_JOINED') {
      log.warn({ workspaceId, err: (err as Error).message }, 'cannot look up the workspace')
    }
    return undefined
  }
}

function addresses (c: WorkspaceContext, wn: WorkspaceNode): string[] {
  let addrs = wn.multiaddrs()
  if (c.filterAddresses != null) addrs = c.filterAddresses(addrs)
  return addrs.filter(a => multiaddrSchema.safeParse(a).success).slice(0, MAX_PEER_ADDRESSES)
}

export async function onJoined (c: WorkspaceContext, msg: WorkspaceJoinedMessage): Promise<void> {
  const id = msg.workspace_id
  const key = parseSwarmKey(msg.ipfs_swarm_key)
  const signal = c.signal
  try {
    let wn = lookupWorkspace(c.node, id, c.log)
    const options = { bootstrapPeers: msg.bootstrap_peers, signal }
    if (wn == null) {
      wn = await c.node.join(id, key, options)
    } else if (wn.keyFingerprint !== key.fingerprint) {
      wn = await c.node.rotateKey(id, key, options)
    } else {
      await dialAll(wn, msg.bootstrap_peers, signal, c.log)
    }
    c.keyVersions.set(id, msg.key_version)
    c.log.info({ workspaceId: id, keyVersion: msg.key_version, keyFingerprint: key.fingerprint }, 'workspace joined')
    c.emit({ type: 'joined', workspaceId: id, keyVersion: msg.key_version, keyFingerprint: key.fingerprint })
    if (!c.current()) return // reconnected meanwhile: the new connection sends its own workspace_joined
    c.send({ type: 'ipfs_ready', workspace_id: id, peer_id: wn.peerId, addresses: addresses(c, wn) })
    const pins = await wn.pins({ signal })
    c.send({ type: 'pin_sync', workspace_id: id, cids: pins.map(p => p.cid.toString()) })
    c.changed()
  } catch (err) {
    const e = err as Error & { code?: string }
    c.log.error({ workspaceId: id, keyFingerprint: key.fingerprint, code: e.code, err: e.message }, 'joining workspace failed')
    c.send({ type: 'error', code: e.code ?? 'ERR_JOIN_FAILED', message: e.message.slice(0, 1000), in_reply_to: 'workspace_joined' })
    c.emit({ type: 'error', error: { code: e.code ?? 'ERR_JOIN_FAILED', message: e.message } })
  }
}

export async function onLeft (c: WorkspaceContext, msg: WorkspaceLeftMessage): Promise<void> {
  c.keyVersions.delete(msg.workspace_id)
  if (lookupWorkspace(c.node, msg.workspace_id, c.log) == null) return
  try {
    await c.node.leave(msg.workspace_id, { purge: msg.purge === true })
    c.log.info({ workspaceId: msg.workspace_id, purge: msg.purge === true }, 'workspace left')
    c.emit({ type: 'left', workspaceId: msg.workspace_id })
    c.changed()
  } catch (err) {
    c.log.error({ workspaceId: msg.workspace_id, err: (err as Error).message }, 'leaving workspace failed')
  }
}

export async function onBootstrap (c: WorkspaceContext, msg: BootstrapUpdateMessage): Promise<void> {
  const wn = lookupWorkspace(c.node, msg.workspace_id, c.log)
  if (wn != null) await dialAll(wn, msg.peers, c.signal, c.log)
}
