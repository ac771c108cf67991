/**
 * One entry of a folder import, turned into its block(s): a file of at most
 * one chunk is one leaf (read whole, encoded in place, hashed, one write); a
 * larger file goes through the single-file importer (import/), one such file
 * at a time so the chunks in flight stay bounded; a symlink or a folder given
 * empty is one small node. A file with a mode or mtime is imported by
 * ipfs-unixfs-importer itself (its metadata layout), as before.
 */
import * as dagPb from '@ipld/dag-pb'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { UnixFS } from 'ipfs-unixfs'
import { encodeLeaf, hashBlock, importFile } from '../import/index.js'
import type { FolderLayout } from './options.js'
import type { AddAllEntry, AddedEntryType } from './options.js'
import type { DirMeta } from './dir-tree.js'
import type { WriteSession } from '../blocks/write-session.js'
import type { Mtime } from 'ipfs-unixfs'
import type { ImporterOptions } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import { prependTo } from '../../util/iterators.js'

export interface ImportedEntry {
  path: string
  type: AddedEntryType
  cid: CID
  /** Bytes of the entry's DAG (its link's Tsize). */
  tsize: number
  /** File bytes (0 for symlinks and folders). */
  size: number
  /** A folder's mode and mtime. */
  meta?: DirMeta
  /** Imported by ipfs-unixfs-importer: some blocks it wrote may not be in the final DAG. */
  viaImporter?: boolean
}

export interface EntryJob {
  layout: FolderLayout
  blockstore: WriteSession['blockstore']
  /** Writes a dag-pb node of the import's CID version. */
  putNode: (bytes: Uint8Array) => Promise<CID>
  signal?: AbortSignal
  /** Files larger than one chunk being imported (one at a time), and those waiting. */
  bigFiles: { running: number, waiting: Array<() => void> }
}

type Content = NonNullable<AddAllEntry['content']>

function metaOf (entry: AddAllEntry): { mode?: number, mtime?: Mtime } {
  return {
    ...(entry.mode != null ? { mode: entry.mode } : {}),
    ...(entry.mtime != null ? { mtime: { secs: BigInt(entry.mtime.secs), nsecs: entry.mtime.nsecs } } : {})
  }
}

function iteratorOf (content: Content): Iterator<Uint8Array> | AsyncIterator<Uint8Array> {
  if (content instanceof Uint8Array) return [content][Symbol.iterator]()
  if (Symbol.asyncIterator in content) return content[Symbol.asyncIterator]()
  return content[Symbol.iterator]()
}

async function bigFileSlot (job: EntryJob): Promise<() => void> {
  const slots = job.bigFiles
  if (slots.running > 0) await new Promise<void>(resolve => { slots.waiting.push(resolve) })
  slots.running++
  return () => {
    slots.running--
    slots.waiting.shift()?.()
  }
}

async function importContent (content: Content, job: EntryJob): Promise<{ cid: CID, size: number, tsize: number }> {
  const { chunkSize } = job.layout.file
  const it = iteratorOf(content)
  const head: Uint8Array[] = []
  let size = 0
  try {
    while (size <= chunkSize) {
      job.signal?.throwIfAborted()
      const r = await it.next()
      if (r.done === true) {
        // at most one chunk: one leaf (a file of exactly one chunk too, as the importer's single-leaf rule)
        const chunk = head.length === 1 ? head[0] : Buffer.concat(head, size)
        const { cid, bytes } = await hashBlock(encodeLeaf(chunk, job.layout.file))
        await job.blockstore.put(cid, bytes, { signal: job.signal })
        return { cid, size, tsize: bytes.byteLength }
      }
      head.push(r.value)
      size += r.value.byteLength
    }
  } catch (err) {
    await it.return?.()
    throw err
  }
  const release = await bigFileSlot(job)
  try {
    const r = await importFile(prependTo(head, it), job.blockstore, { layout: job.layout.file, signal: job.signal })
    return { cid: r.cid, size: r.size, tsize: r.dagSize }
  } finally {
    release()
  }
}

/** A file with a mode or an mtime: ipfs-unixfs-importer's own file builder (its metadata layout). */
async function importWithMetadata (content: Content, meta: { mode?: number, mtime?: Mtime }, job: EntryJob): Promise<{ cid: CID, size: number, tsize: number }> {
  const { file, profile } = job.layout
  const options: ImporterOptions & { signal?: AbortSignal } = {
    profile,
    cidVersion: file.cidVersion,
    rawLeaves: file.rawLeaves,
    chunker: fixedSize({ chunkSize: file.chunkSize }),
    layout: balanced({ maxChildrenPerNode: file.maxChildrenPerNode }),
    signal: job.signal
  }
  let last
  for await (const r of importer([{ content, ...meta }], job.blockstore, options)) last = r
  if (last == null) throw new Error('importer yielded nothing')
  return { cid: last.cid, size: Number(last.unixfs?.fileSize() ?? 0n), tsize: Number(last.size) }
}

export async function importEntry (entry: AddAllEntry, path: string, dir: boolean, job: EntryJob): Promise<ImportedEntry> {
  job.signal?.throwIfAborted()
  const meta = metaOf(entry)
  if (entry.link != null) {
    const data = new UnixFS({ type: 'symlink', data: Buffer.from(entry.link), ...meta })
    const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal() }))
    return { path, type: 'symlink', cid: await job.putNode(bytes), tsize: bytes.byteLength, size: 0 }
  }
  if (dir || entry.content == null) {
    const data = new UnixFS({ type: 'directory', ...meta })
    const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal() }))
    return { path, type: 'directory', cid: await job.putNode(bytes), tsize: bytes.byteLength, size: 0, meta }
  }
  if (meta.mode != null || meta.mtime != null) {
    return { path, type: 'file', ...await importWithMetadata(entry.content, meta, job), viaImporter: true }
  }
  return { path, type: 'file', ...await importContent(entry.content, job) }
}
