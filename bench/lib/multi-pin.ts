/**
 * Pin from several holders, each held to the same upload limit (the
 * workspace bandwidth limit), against a pin from one of them under that
 * limit. Every node is its own process (bench/workers/pin-node.ts); the
 * holders add the same file (same CIDs), the fetcher is unlimited.
 */
import path from 'node:path'
import { startChild, type BenchChild } from './child.js'
import type { BenchWorkspace } from './node-ops.js'

interface Started { child: BenchChild, multiaddrs: string[] }

async function start (storagePath: string, ws: BenchWorkspace, upBytesPerSecond?: number): Promise<Started> {
  const child = await startChild('pin-node')
  try {
    const info = await child.request<{ multiaddrs: string[] }>('start', {
      storagePath,
      workspaceId: ws.id,
      swarmKey: ws.swarmKey,
      ...(upBytesPerSecond != null ? { bandwidth: { upBytesPerSecond } } : {})
    }, 120_000)
    return { child, multiaddrs: info.multiaddrs }
  } catch (err) {
    child.kill()
    throw err
  }
}

export interface MultiPinResult {
  /** Pin from the first holder alone, ms. */
  singleMs: number
  /** Pin from all holders, ms. */
  multiMs: number
  /** Peers the multi-source fetcher was connected to at the end. */
  peers: number
}

export async function multiSourcePin (init: { dir: string, ws: BenchWorkspace, file: string, holders: number, upBytesPerSecond: number, timeout: number, log: (s: string) => void }): Promise<MultiPinResult> {
  const holders: Started[] = []
  const fetchers: Started[] = []
  try {
    for (let i = 0; i < init.holders; i++) holders.push(await start(path.join(init.dir, `holder-${i}`), init.ws, init.upBytesPerSecond))
    init.log(`pin: adding the file on ${init.holders} holders`)
    const added = await Promise.all(holders.map(async h => h.child.request<{ cid: string }>('addFile', { path: init.file }, init.timeout)))
    const cid = added[0].cid
    if (added.some(a => a.cid !== cid)) throw new Error('holders got different CIDs for the same file')

    init.log('pin: from one holder under the limit')
    const single = await start(path.join(init.dir, 'fetch-single'), init.ws)
    fetchers.push(single)
    const s = await single.child.request<{ ms: number }>('pin', { cid, providers: holders[0].multiaddrs, timeout: init.timeout }, init.timeout + 10_000)

    init.log(`pin: from ${init.holders} holders, each under the limit`)
    const multi = await start(path.join(init.dir, 'fetch-multi'), init.ws)
    fetchers.push(multi)
    const m = await multi.child.request<{ ms: number, peers: number }>('pin', { cid, providers: holders.flatMap(h => h.multiaddrs), timeout: init.timeout }, init.timeout + 10_000)
    return { singleMs: s.ms, multiMs: m.ms, peers: m.peers }
  } finally {
    await Promise.allSettled([...holders, ...fetchers].map(async n => n.child.stop()))
    for (const n of [...holders, ...fetchers]) n.child.kill()
  }
}
