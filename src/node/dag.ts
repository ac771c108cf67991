/**
 * Walking a DAG block by block: fetch with a per-block timeout and retry (a
 * lost bitswap want does not hang the whole pin), a bounded number of blocks
 * in flight, and links read from dag-pb nodes (raw blocks have none).
 */
import { CID } from 'multiformats/cid'
import type { Blockstore } from 'interface-blockstore'

const DAG_PB = 0x70

/** A map key for a block: its multihash (CIDv0 and CIDv1 of the same block agree). */
export function mhKey (cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}

export interface DagNodeInfo {
  links: Array<{ cid: CID, tsize?: number }>
  /** UnixFS data of a dag-pb node, if any. */
  data?: Uint8Array
}

/** Decodes the links of a block (dag-pb); raw and unknown codecs have none. */
export async function readLinks (cid: CID, bytes: Uint8Array, getCodec: (code: number) => Promise<{ decode(bytes: Uint8Array): any }>): Promise<DagNodeInfo> {
  if (cid.code !== DAG_PB) return { links: [] }
  const codec = await getCodec(cid.code)
  const node = codec.decode(bytes)
  return {
    links: (node.Links ?? []).map((l: any) => ({ cid: CID.asCID(l.Hash) ?? CID.decode(l.Hash.bytes), tsize: l.Tsize })),
    data: node.Data
  }
}

/** Concatenates a block's chunks. */
export async function collect (source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let length = 0
  for await (const chunk of source) {
    chunks.push(chunk)
    length += chunk.byteLength
  }
  if (chunks.length === 1) return chunks[0]
  const out = new Uint8Array(length)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.byteLength
  }
  return out
}

export interface FetchBlockOptions {
  signal: AbortSignal
  /** Per-attempt timeout in ms. */
  blockTimeout: number
  /** Extra attempts after a timed-out want. */
  retries: number
  /** Called before a retry (the workspace node reconnects its peers, see workspace-node.ts). */
  onRetry?: () => Promise<void>
}

/** Error raised when every attempt of a block timed out. */
export class BlockTimeoutError extends Error {
  override name = 'BlockTimeoutError'
}

/** Gets one block (from disk or peers), retrying a timed-out want. */
export async function fetchBlock (blockstore: Pick<Blockstore, 'get'>, cid: CID, options: FetchBlockOptions): Promise<Uint8Array> {
  for (let attempt = 0; ; attempt++) {
    options.signal.throwIfAborted()
    const attemptSignal = AbortSignal.any([options.signal, AbortSignal.timeout(options.blockTimeout)])
    try {
      return await collect(blockstore.get(cid, { signal: attemptSignal }) as AsyncIterable<Uint8Array>)
    } catch (err) {
      if (options.signal.aborted) throw err
      if (!attemptSignal.aborted) throw err
      if (attempt >= options.retries) {
        throw new BlockTimeoutError(`Block ${cid} not received after ${attempt + 1} attempts of ${options.blockTimeout} ms`)
      }
      await options.onRetry?.().catch(() => {})
    }
  }
}

/**
 * Visits every block reachable from `root` (each once), at most `concurrency`
 * at a time. `visit` returns the block's children. On the first error, the
 * walk stops, waits for visits in flight to settle, and rethrows.
 */
export async function walkDag (root: CID, visit: (cid: CID, signal: AbortSignal) => Promise<CID[]>, options: { signal: AbortSignal, concurrency: number }): Promise<void> {
  const controller = new AbortController()
  const onAbort = (): void => { controller.abort(options.signal.reason) }
  options.signal.addEventListener('abort', onAbort, { once: true })
  const queue: CID[] = [root]
  const seen = new Set<string>([mhKey(root)])
  let active = 0
  let failure: { err: unknown } | undefined

  try {
    options.signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const pump = (): void => {
        if (failure != null) {
          if (active === 0) reject(failure.err)
          return
        }
        if (queue.length === 0 && active === 0) {
          resolve()
          return
        }
        while (active < options.concurrency && queue.length > 0) {
          // depth-first: take the most recently discovered block, keeps the queue short
          const cid = queue.pop() as CID
          active++
          visit(cid, controller.signal).then(children => {
            active--
            for (let i = children.length - 1; i >= 0; i--) {
              const k = mhKey(children[i])
              if (!seen.has(k)) {
                seen.add(k)
                queue.push(children[i])
              }
            }
            pump()
          }, err => {
            active--
            if (failure == null) {
              failure = { err }
              controller.abort(err)
            }
            pump()
          })
        }
      }
      pump()
    })
  } finally {
    options.signal.removeEventListener('abort', onAbort)
  }
}
