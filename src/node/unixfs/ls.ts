/**
 * ls: the entries of a UnixFS directory (flat or HAMT-sharded), streamed in
 * link order. Each entry's type and size come from its own root block, read
 * a few at a time ahead of the consumer; nothing else of the children is read.
 */
import { exporter } from 'ipfs-unixfs-exporter'
import { NotADirectoryError } from '../../errors.js'
import { resolvePath } from './resolve.js'
import type { CidOrPath, ContentComponents } from '../blocks/components.js'
import type { AbortOptions } from '@libp2p/interface'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { awaitedLater } from '../../util/promise.js'

export interface LsEntry {
  name: string
  /** `<root cid>/<path below it>/<name>` */
  path: string
  cid: CID
  /** A file's size in bytes, a symlink's target length, 0 for a directory. */
  size: number
  /** Bytes of the entry's whole DAG (the link's Tsize). */
  dagSize: number
  type: 'file' | 'directory' | 'symlink' | 'raw'
}

export interface LsOptions extends AbortOptions {
  /** Children whose root block is read ahead. @default 16 */
  readAhead?: number
}

export function entryType (entry: UnixFSEntry): LsEntry['type'] {
  if (entry.type === 'directory') return 'directory'
  if (entry.type === 'file') return entry.unixfs.type === 'symlink' ? 'symlink' : 'file'
  // a raw leaf (or identity) block in a directory is a file; 'raw' is for other codecs
  if (entry.type === 'raw' || entry.type === 'identity') return 'file'
  return 'raw'
}

export function entryFileSize (entry: UnixFSEntry): number {
  if (entry.type === 'directory') return 0
  if (entry.type === 'file' && entry.unixfs.type === 'symlink') return entry.unixfs.data?.byteLength ?? 0
  if (entry.type === 'object') return entry.node.byteLength
  return Number(entry.size)
}

export async function * ls (components: Pick<ContentComponents, 'blockstore'>, cidOrPath: CidOrPath, options: LsOptions = {}): AsyncGenerator<LsEntry> {
  const { cid } = await resolvePath(components, cidOrPath, options)
  const dir = await exporter(cid, components.blockstore, { signal: options.signal })
  if (dir.type !== 'directory') throw new NotADirectoryError(`${typeof cidOrPath === 'string' ? cidOrPath : cid.toString()} is not a directory`)
  const prefix = typeof cidOrPath === 'string' ? cidOrPath.replace(/^\/ipfs\//, '').replace(/\/+$/, '') : cid.toString()
  const readAhead = Math.max(1, options.readAhead ?? 16)
  const pending: Array<{ link: { cid: CID, name: string, size: bigint }, entry: Promise<UnixFSEntry> }> = []
  const children = dir.entries({ signal: options.signal })
  let exhausted = false
  const fill = async (): Promise<void> => {
    while (!exhausted && pending.length < readAhead) {
      const next = await children.next()
      if (next.done === true) {
        exhausted = true
        return
      }
      const link = next.value
      const entry = exporter(link.cid, components.blockstore, { signal: options.signal })
      awaitedLater(entry) // awaited in order below
      pending.push({ link, entry })
    }
  }
  await fill()
  while (pending.length > 0) {
    options.signal?.throwIfAborted()
    const { link, entry } = pending.shift() as (typeof pending)[number]
    const child = await entry
    await fill()
    yield {
      name: link.name,
      path: `${prefix}/${link.name}`,
      cid: link.cid,
      size: entryFileSize(child),
      dagSize: Number(link.size),
      type: entryType(child)
    }
  }
}
