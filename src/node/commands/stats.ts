/** `stats`: this workspace's blocks, bytes, pins and peers, with the node-wide quota. */
import { pins } from './pins.js'
import { peers } from './network.js'
import type { WorkspaceComponents } from '../components.js'
import type { WorkspaceNodeStats } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'

export type StatsComponents = Pick<WorkspaceComponents, 'workspaceId' | 'libp2p' | 'store' | 'layout' | 'pins' | 'quota'>

export async function stats (components: StatsComponents, options: AbortOptions = {}): Promise<WorkspaceNodeStats> {
  const { store, quota } = components
  const [blocks, pinList] = await Promise.all([components.layout.count(options), pins(components, options)])
  const usage = quota?.usage()
  return {
    workspaceId: components.workspaceId,
    peerId: components.libp2p.peerId.toString(),
    repoBytes: store.used ?? 0,
    blocks,
    pins: pinList.length,
    peers: peers(components).length,
    quotaBytes: usage?.limit ?? Infinity,
    quotaUsedBytes: usage?.used ?? store.used ?? 0,
    driveFreeBytes: await (quota?.driveFreeBytes() ?? Promise.resolve(NaN))
  }
}
