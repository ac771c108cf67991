/**
 * Our operations, each in a fresh child process so its peak RSS is its own:
 * add a file, get/cat it after a restart, and pin it from a second node over
 * the workspace's private swarm (pnet + noise + yamux on 127.0.0.1).
 */
import path from 'node:path'
import { generateSwarmKey } from '../../src/swarm-key/index.js'
import { childCpuMs } from './baselines.js'
import { startChild, type BenchChild } from './child.js'

export type Profile = 'kubo' | 'cidv1'

/** A workspace shared by the bench's nodes. The key only travels over IPC. */
export interface BenchWorkspace {
  id: string
  swarmKey: string
}

export function benchWorkspace (): BenchWorkspace {
  return { id: 'bench', swarmKey: generateSwarmKey() }
}

export interface NodeStart {
  peerId: string
  multiaddrs: string[]
}

export interface NodeProcess {
  child: BenchChild
  info: NodeStart
}

/** Start a storage node in a child process with one workspace joined. */
export async function startNode (storagePath: string, ws: BenchWorkspace, opts: { bootstrapPeers?: string[], cpuProfDir?: string, hashOnRead?: boolean } = {}): Promise<NodeProcess> {
  const child = await startChild('node', { cpuProfDir: opts.cpuProfDir })
  try {
    const info = await child.request<NodeStart>('start', {
      storagePath,
      quotaBytes: Number.MAX_SAFE_INTEGER,
      workspaceId: ws.id,
      swarmKey: ws.swarmKey,
      bootstrapPeers: opts.bootstrapPeers ?? [],
      hashOnRead: opts.hashOnRead
    }, 120_000)
    return { child, info }
  } catch (err) {
    child.kill()
    throw err
  }
}

export interface OpResult {
  ms: number
  peakRssBytes: number
  cid?: string
}

/** `addFile` in a fresh node process; returns the time of the add alone and the process's peak RSS. */
export async function addInChild (storagePath: string, ws: BenchWorkspace, file: string, profile: Profile, cpuProfDir?: string): Promise<OpResult & { cid: string }> {
  const n = await startNode(storagePath, ws, { cpuProfDir })
  try {
    const r = await n.child.request<{ cid: string, ms: number }>('addFile', { path: file, profile })
    const { maxRssBytes } = await n.child.stop()
    return { ms: r.ms, cid: r.cid, peakRssBytes: maxRssBytes }
  } finally {
    n.child.kill()
  }
}

interface ReadStats { ms: number, cpuMs: number, newSpaceBytes: number }

/** A read's time and peak RSS, the CPU of the whole child process during it (all threads, ms), V8's new space after it. */
export interface ReadResult extends OpResult { cpuMs: number, newSpaceBytes: number }

/** `get` (to a file) or `cat` (counting bytes) in a fresh process over an existing repo. */
export async function readInChild (op: 'get' | 'cat', storagePath: string, ws: BenchWorkspace, cid: string, out: string, cpuProfDir?: string, before?: () => Promise<void>, node: { hashOnRead?: boolean } = {}): Promise<ReadResult> {
  const n = await startNode(storagePath, ws, { cpuProfDir, hashOnRead: node.hashOnRead })
  try {
    await before?.()
    const r = op === 'get'
      ? await n.child.request<ReadStats>('get', { cid, out })
      : await n.child.request<ReadStats>('cat', { cid })
    const { maxRssBytes } = await n.child.stop()
    return { ms: r.ms, peakRssBytes: maxRssBytes, cpuMs: r.cpuMs, newSpaceBytes: r.newSpaceBytes }
  } finally {
    n.child.kill()
  }
}

/** Stock Helia (bench/workers/helia.ts) in a fresh process over `storagePath`, started. */
async function startHelia (storagePath: string, cpuProfDir?: string): Promise<BenchChild> {
  const child = await startChild('helia', { cpuProfDir })
  try {
    await child.request('start', { storagePath }, 120_000)
    return child
  } catch (err) {
    child.kill()
    throw err
  }
}

/** Stock Helia's add (Kubo's options) and pin of `file` in a fresh process. */
export async function heliaAddInChild (storagePath: string, file: string, cpuProfDir?: string): Promise<OpResult & { cid: string }> {
  const child = await startHelia(storagePath, cpuProfDir)
  try {
    const r = await child.request<{ cid: string, ms: number }>('addFile', { path: file }, 600_000)
    const { maxRssBytes } = await child.stop()
    return { ms: r.ms, cid: r.cid, peakRssBytes: maxRssBytes }
  } finally {
    child.kill()
  }
}

/** Stock Helia's `cat` to a file (`get`) or counted (`cat`) in a fresh process over an existing repo. */
export async function heliaReadInChild (op: 'get' | 'cat', storagePath: string, cid: string, out: string, cpuProfDir?: string, before?: () => Promise<void>): Promise<OpResult> {
  const child = await startHelia(storagePath, cpuProfDir)
  try {
    await before?.()
    const r = await child.request<{ ms: number }>(op, op === 'get' ? { cid, out } : { cid }, 600_000)
    const { maxRssBytes } = await child.stop()
    return { ms: r.ms, peakRssBytes: maxRssBytes }
  } finally {
    child.kill()
  }
}

export interface TransferResult {
  ms: number
  providerRssBytes: number
  fetcherRssBytes: number
  /** user + system CPU of the provider and the fetcher during the first pin, ms */
  providerCpuMs: number
  fetcherCpuMs: number
  /** Stall check: one entry per transfer, `undefined` ms for a stall (timeout or error). */
  transfers: Array<{ ms?: number, error?: string }>
}

/**
 * Provider (an existing repo holding `cid`, restarted) and a fresh fetcher in
 * two processes; the fetcher pins `cid` over the private swarm. Then
 * `transfers` more pins of distinct random content of `transferSize` bytes,
 * each with `timeout` ms.
 */
export async function transferInChildren (init: {
  providerPath: string
  fetcherPath: string
  ws: BenchWorkspace
  cid: string
  timeout: number
  transfers?: number
  transferSize?: number
  cpuProfDir?: string
}): Promise<TransferResult> {
  const provider = await startNode(init.providerPath, init.ws, { cpuProfDir: init.cpuProfDir })
  let fetcher: NodeProcess | undefined
  try {
    fetcher = await startNode(init.fetcherPath, init.ws, { bootstrapPeers: provider.info.multiaddrs, cpuProfDir: init.cpuProfDir })
    const [p0, f0] = await Promise.all([childCpuMs(provider.child), childCpuMs(fetcher.child)])
    const start = performance.now()
    await fetcher.child.request('pin', { cid: init.cid, timeout: init.timeout }, init.timeout + 10_000)
    const ms = performance.now() - start
    const [p1, f1] = await Promise.all([childCpuMs(provider.child), childCpuMs(fetcher.child)])

    const transfers: TransferResult['transfers'] = []
    for (let i = 0; i < (init.transfers ?? 0); i++) {
      const added = await provider.child.request<{ cid: string }>('addRandom', { size: init.transferSize ?? 1024 * 1024, profile: 'kubo' })
      const t0 = performance.now()
      try {
        await fetcher.child.request('pin', { cid: added.cid, timeout: init.timeout }, init.timeout + 10_000)
        transfers.push({ ms: performance.now() - t0 })
      } catch (err: any) {
        transfers.push({ error: String(err?.message ?? err) })
      }
    }
    const [f, p] = await Promise.all([fetcher.child.stop(), provider.child.stop()])
    return { ms, transfers, providerRssBytes: p.maxRssBytes, fetcherRssBytes: f.maxRssBytes, providerCpuMs: p1 - p0, fetcherCpuMs: f1 - f0 }
  } finally {
    fetcher?.child.kill()
    provider.child.kill()
  }
}

export function repoPath (dir: string, name: string): string {
  return path.join(dir, name)
}
