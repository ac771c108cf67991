/**
 * The `storage_report` a node sends: its quota, what it uses and what it can
 * still take (the smaller of the quota's room and the drive's free space).
 */
import type { NodeMessage } from '../protocol/index.js'
import type { StorageNode } from '../node/types.js'
import type { AbortOptions } from '@libp2p/interface'

export async function storageReport (node: StorageNode, options: AbortOptions = {}): Promise<NodeMessage> {
  const stats = await node.stats(options)
  const driveFree = Math.floor(stats.driveFreeBytes)
  return {
    type: 'storage_report',
    used: Math.max(0, Math.floor(stats.usedBytes)),
    quota: Math.max(0, Math.floor(stats.quotaBytes)),
    free: Math.max(0, Math.floor(Math.min(stats.freeBytes, stats.driveFreeBytes))),
    ...(Number.isSafeInteger(driveFree) ? { drive_free: Math.max(0, driveFree) } : {}),
    workspaces: stats.workspaces.map(w => ({ workspace_id: w.workspaceId, used: Math.max(0, Math.floor(w.repoBytes)), pins: w.pins }))
  }
}
