/**
 * A storage node with one workspace, in its own process, driven by the bench
 * over IPC. Listens on 127.0.0.1 only.
 */
import fs from 'node:fs/promises'
import { createStorageNode } from '../../src/node/index.js'
import { letNewSpaceGrow } from '../../src/runner/process-memory.js'
import { randomChunks } from '../lib/files.js'
import type { StorageNode, WorkspaceNode } from '../../src/node/types.js'
import type { Handlers } from './entry.js'

let storage: StorageNode | undefined
let ws: WorkspaceNode | undefined

function node (): WorkspaceNode {
  if (ws === undefined) throw new Error('node not started')
  return ws
}

type Profile = 'kubo' | 'cidv1'

export const handlers: Handlers = {
  async start (args: { storagePath: string, quotaBytes: number, workspaceId: string, swarmKey: string, bootstrapPeers?: string[] }) {
    await fs.mkdir(args.storagePath, { recursive: true })
    const s = await createStorageNode({
      storagePath: args.storagePath,
      quotaBytes: args.quotaBytes,
      listenAddresses: ['/ip4/127.0.0.1/tcp/0']
    })
    storage = s
    ws = await s.join(args.workspaceId, args.swarmKey, { bootstrapPeers: args.bootstrapPeers ?? [] })
    // as the runner does once started (src/runner/cli.ts; entry.ts applied the start-up setting)
    if (process.env.BENCH_RUNNER_FLAGS !== '0') letNewSpaceGrow()
    return { peerId: ws.peerId, multiaddrs: ws.multiaddrs() }
  },
  async connect (args: { multiaddrs: string[] }) {
    let lastErr: unknown
    for (const ma of args.multiaddrs) {
      try {
        await node().connect(ma)
        return { connected: ma }
      } catch (err) { lastErr = err }
    }
    throw lastErr ?? new Error('no multiaddr')
  },
  async addFile (args: { path: string, profile: Profile }) {
    const start = performance.now()
    const r = await node().addFile(args.path, { profile: args.profile })
    return { cid: r.cid.toString(), size: r.size, ms: performance.now() - start }
  },
  async addRandom (args: { size: number, profile: Profile }) {
    const start = performance.now()
    const r = await node().add(randomChunks(args.size), { profile: args.profile })
    return { cid: r.cid.toString(), size: r.size, ms: performance.now() - start }
  },
  async addFiles (args: { paths: string[], profile: Profile }) {
    const start = performance.now()
    for (const p of args.paths) await node().addFile(p, { profile: args.profile })
    return { ms: performance.now() - start }
  },
  async addDirectory (args: { path: string, profile: Profile }) {
    const start = performance.now()
    const r = await node().addDirectory(args.path, { profile: args.profile })
    return { cid: r.cid.toString(), size: r.size, ms: performance.now() - start }
  },
  async get (args: { cid: string, out: string }) {
    const start = performance.now()
    await node().get(args.cid, args.out)
    return { ms: performance.now() - start }
  },
  async cat (args: { cid: string }) {
    const start = performance.now()
    let bytes = 0
    for await (const chunk of node().cat(args.cid)) bytes += chunk.byteLength
    return { ms: performance.now() - start, bytes }
  },
  async pin (args: { cid: string, timeout?: number }) {
    const start = performance.now()
    const r = await node().pin(args.cid, { timeout: args.timeout })
    return { ms: performance.now() - start, size: r.size }
  },
  async peers () {
    return node().peers()
  },
  async stop () {
    const s = storage
    storage = undefined
    ws = undefined
    await s?.stop()
  }
}
