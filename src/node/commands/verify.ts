/**
 * `verify`: re-hashes every stored block, deletes the corrupt ones, and fetches the missing
 * blocks of every pinned DAG again from peers.
 */
import { AbortedError } from '../../errors.js'
import { throwIfAborted } from '../abort.js'
import { collect, fetchBlock, getBlock, readLinks, walkDag } from '../dag.js'
import { pins } from './pins.js'
import { inWriteSession } from './session.js'
import type { WorkspaceComponents } from '../components.js'
import type { VerifyResult } from '../types.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type VerifyComponents = Pick<WorkspaceComponents, 'blockstore' | 'store' | 'pins' | 'getCodec' | 'getHasher' | 'peers' | 'settings' | 'log'>

async function matches (components: VerifyComponents, cid: CID, bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<boolean> {
  try {
    const data = await collect(bytes)
    const hasher = await components.getHasher(cid.multihash.code)
    const digest = await hasher.digest(data)
    return Buffer.compare(Buffer.from(digest.bytes), Buffer.from(cid.multihash.bytes)) === 0
  } catch (err) {
    components.log('verify: block %c unreadable or of an unknown hash: %e', cid, err)
    return false
  }
}

export async function verify (components: VerifyComponents, options: AbortOptions = {}): Promise<VerifyResult> {
  const { store } = components
  throwIfAborted(options.signal)
  let checked = 0
  const corrupt: CID[] = []
  for await (const { cid, bytes } of store.getAll({ signal: options.signal })) {
    checked++
    if (await matches(components, cid, bytes)) continue
    corrupt.push(cid)
    try {
      await store.delete(cid)
    } catch (err) {
      components.log.error('verify could not delete corrupt block %c: %e', cid, err)
    }
  }
  const refetched: CID[] = []
  const failed: CID[] = []
  for (const pin of await pins(components, options)) {
    if (await isComplete(components, pin.cid, options)) continue
    try {
      await refetch(components, pin.cid, options)
      refetched.push(pin.cid)
    } catch (err) {
      if (options.signal?.aborted === true) throw new AbortedError('verify aborted', { cause: err })
      components.log.error('verify could not refetch %c: %e', pin.cid, err)
      failed.push(pin.cid)
    }
  }
  return { checked, corrupt, refetched, failed }
}

/** Whether every block of the DAG is stored locally. */
async function isComplete (components: VerifyComponents, root: CID, options: AbortOptions): Promise<boolean> {
  let complete = true
  await walkDag(root, async ({ cid }) => {
    throwIfAborted(options.signal)
    if (!complete || !await components.store.has(cid)) {
      complete = false
      return []
    }
    return (await readLinks(cid, await getBlock(components.store, cid), components.getCodec)).links.map(l => l.cid)
  }, { signal: options.signal })
  return complete
}

/** Fetches the missing blocks of a pinned DAG again from peers. */
async function refetch (components: VerifyComponents, root: CID, options: AbortOptions): Promise<void> {
  const { settings } = components
  await inWriteSession(components, async () => {
    await walkDag(root, async ({ cid, signal }) => {
      const block = await fetchBlock(components.blockstore, cid, {
        signal,
        blockTimeout: settings.blockTimeout,
        retries: settings.blockRetries,
        onRetry: async () => { await components.peers.resetPeers() }
      })
      return (await readLinks(cid, block, components.getCodec)).links.map(l => l.cid)
    }, { signal: options.signal, concurrency: settings.fetchConcurrency })
  })
}
