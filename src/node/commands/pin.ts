/**
 * `pin`: brings a whole DAG from workspace peers and pins it. Stored blocks first, then whole
 * subDAGs streamed by every connected peer at once (DAG transfer protocol, transfer/; the
 * `providers` are dialed first); what no peer sent, block by
 * block over bitswap with a per-block timeout and retry. All or nothing: on any failure the
 * blocks this pin fetched that no pin holds are deleted (write session rollback).
 */
import { ContentNotFoundError } from '../../errors.js'
import { throwIfAborted } from '../abort.js'
import { isFullError } from '../guarded-blockstore.js'
import { operationSignal, toCid, translateError } from '../cid.js'
import { BlockTimeoutError, fetchBlock, getBlock, readLinks, walkDag } from '../dag.js'
import { pinDag } from '../pins/pin-dag.js'
import { fileSize } from './content-size.js'
import { dialPeers } from './network.js'
import { directorySize, StreamedDagSize } from '../blocks/local-dag.js'
import { CidList } from '../blocks/cid-list.js'
import { inWriteSession } from './session.js'
import type { WorkspaceComponents } from '../components.js'
import type { PinInfo, PinOptions } from '../types.js'
import type { CID } from 'multiformats/cid'

export type PinComponents = Pick<WorkspaceComponents, 'blockstore' | 'store' | 'pins' | 'getCodec' | 'transfer' | 'peers' | 'settings' | 'quota' | 'log' | 'libp2p'>

export async function pin (components: PinComponents, cidIn: CID | string, options: PinOptions = {}): Promise<PinInfo> {
  const cid = toCid(cidIn)
  throwIfAborted(options.signal)
  try {
    return await pinOnce(components, cid, options)
  } catch (err) {
    // refused for lack of space although the per-block retry ran gc: run gc and retry the whole pin once
    if (!isFullError(err) || components.quota == null || options.signal?.aborted === true) throw err
    if (!await components.quota.onFull()) throw err
    return pinOnce(components, cid, options)
  }
}

async function pinOnce (components: PinComponents, cid: CID, options: PinOptions): Promise<PinInfo> {
  const op = operationSignal(options.signal, options.timeout)
  try {
    const existing = await components.pins.get(cid, op)
    if (existing != null) {
      await pinDag(components, cid, { size: 0, name: options.name, signal: op.signal })
      const name = options.name ?? existing.metadata.name
      return { cid, size: Number(existing.metadata.size ?? 0), ...(typeof name === 'string' ? { name } : {}) }
    }
    // the holders the orchestrator named: connected first, then every connected peer shares the transfer
    if (options.providers != null && options.providers.length > 0) await dialPeers(components, options.providers, op)
    const size = await inWriteSession(components, async () => {
      // every block of the DAG passes through fetchDag once at least: the pin records and a
      // directory's size come from them, without reading the DAG back
      const blocks = new CidList({ unique: true })
      const sizer = new StreamedDagSize(cid)
      const bytes = await fetchDag(components, cid, op.signal, options, (blockCid, block) => {
        blocks.add(blockCid)
        sizer.add(blockCid, block)
      })
      const root = await getBlock(components.store, cid, op)
      // a directory's size is the size of all its files (issue #12)
      const size = await fileSize(cid, root, components.getCodec) ?? sizer.size ?? await directorySize(components.store, cid, op) ?? bytes
      await pinDag(components, cid, { size, name: options.name, signal: op.signal, blocks })
      return size
    })
    components.quota?.afterWrite()
    return { cid, size, ...(options.name != null ? { name: options.name } : {}) }
  } catch (err) {
    if (err instanceof BlockTimeoutError) throw new ContentNotFoundError(`${cid} not found from workspace peers`, { cause: err })
    throw translateError(err, op, options.signal)
  } finally {
    op.clear()
  }
}

/** Brings every block of the DAG under `cid` into the local store; resolves with the DAG's bytes. */
async function fetchDag (components: PinComponents, cid: CID, signal: AbortSignal, options: PinOptions, onBlock: (cid: CID, block: Uint8Array) => void): Promise<number> {
  const { settings } = components
  let bytes = 0
  let total: number | undefined
  const account = (blockCid: CID, block: Uint8Array, links: Array<{ tsize?: number }>): void => {
    onBlock(blockCid, block)
    if (blockCid.equals(cid)) total = block.byteLength + links.reduce((n, l) => n + (l.tsize ?? 0), 0)
    bytes += block.byteLength
    options.onProgress?.({ bytes, total })
  }
  const missing = await components.transfer.fetch(cid, {
    signal,
    onBlock: (e) => { account(e.cid, e.bytes, e.links) }
  }).catch((err: unknown) => {
    throw (err as { name?: string } | null)?.name === 'LocalWriteError' ? (err as Error).cause : err
  })
  const workers = Math.min(missing.length, 8)
  const walks = new AbortController()
  const stopWalks = (): void => { walks.abort(signal.reason) }
  signal.addEventListener('abort', stopWalks, { once: true })
  let walkError: { err: unknown } | undefined
  await Promise.allSettled(Array.from({ length: workers }, async () => {
    for (let subRoot = missing.shift(); subRoot != null && walkError == null; subRoot = missing.shift()) {
      await walkDag(subRoot, async ({ cid: blockCid, signal }) => {
        const block = await fetchBlock(components.blockstore, blockCid, {
          signal,
          blockTimeout: settings.blockTimeout,
          retries: settings.blockRetries,
          onRetry: async () => { await components.peers.resetPeers() }
        })
        const node = await readLinks(blockCid, block, components.getCodec)
        account(blockCid, block, node.links)
        return node.links.map(l => l.cid)
      }, { signal: walks.signal, concurrency: Math.max(1, Math.floor(settings.fetchConcurrency / workers)) }).catch((err) => {
        walkError ??= { err }
        walks.abort(err)
      })
    }
  }))
  signal.removeEventListener('abort', stopWalks)
  if (walkError != null) throw walkError.err
  return bytes
}
