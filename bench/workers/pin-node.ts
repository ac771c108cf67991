/**
 * A storage node with one workspace and a workspace bandwidth limit, in its
 * own process, for the multi-source pin bench (bench/lib/multi-pin.ts).
 * Listens on 127.0.0.1 only.
 */
import fs from 'node:fs/promises'
import { createStorageNode } from '../../src/node/index.js'
import type { BandwidthLimits } from '../../src/node/bandwidth.js'
import type { StorageNode, WorkspaceNode } from '../../src/node/types.js'
import type { Handlers } from './entry.js'

let storage: StorageNode | undefined
let ws: WorkspaceNode | undefined

function node (): WorkspaceNode {
  if (ws === undefined) throw new Error('node not started')
  return ws
}

export const handlers: Handlers = {
  async start (args: { storagePath: string, workspaceId: string, swarmKey: string, bandwidth?: BandwidthLimits }) {
    await fs.mkdir(args.storagePath, { recursive: true })
    storage = await createStorageNode({
      storagePath: args.storagePath,
      quotaBytes: Number.MAX_SAFE_INTEGER,
      listenAddresses: ['/ip4/127.0.0.1/tcp/0'],
      bandwidth: args.bandwidth
    })
    ws = await storage.join(args.workspaceId, args.swarmKey)
    return { peerId: ws.peerId, multiaddrs: ws.multiaddrs() }
  },
  async addFile (args: { path: string }) {
    const start = performance.now()
    const r = await node().addFile(args.path, { profile: 'kubo' })
    return { cid: r.cid.toString(), ms: performance.now() - start }
  },
  async pin (args: { cid: string, providers: string[], timeout: number }) {
    const start = performance.now()
    const r = await node().pin(args.cid, { timeout: args.timeout, providers: args.providers })
    return { ms: performance.now() - start, size: r.size, peers: node().peers().length }
  },
  async stop () {
    const s = storage
    storage = undefined
    ws = undefined
    await s?.stop()
  }
}
