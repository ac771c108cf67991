/**
 * addAll: files, folders and symlinks as one UnixFS tree, with the CIDs of
 * ipfs-unixfs-importer 17 for the profile (IPIP-499 `unixfs-v0-2015` with the
 * "links-bytes" shard rule for 'kubo', `unixfs-v1-2025` for 'cidv1'), which
 * are Kubo's `ipfs add -r` CIDs.
 *
 * - Entries are imported `fileConcurrency` at a time (read, hashed, written
 *   at once) and added to the tree in input order (file-entry.ts).
 * - The folders are our own (dir-tree.ts, hamt.ts): links held compactly
 *   while a folder is built, never a file's bytes; written deepest first at
 *   the end.
 * - Blocks go straight to the local store, one existence check each.
 *
 * All or nothing: the roots are pinned once at the end; on any failure (or
 * when the caller stops iterating early) the blocks this call newly wrote
 * and no pin holds are deleted before the error is returned.
 */
import * as dagPb from '@ipld/dag-pb'
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../../errors.js'
import { translateError } from '../cid.js'
import { mhKey } from '../dag.js'
import { orderedParallel } from '../../blockstore/ordered-parallel.js'
import { createWriteSession } from '../blocks/write-session.js'
import { DirTree } from './dir-tree.js'
import { blockCidSync } from '../import/index.js'
import { importEntry } from './file-entry.js'
import { folderLayout, normalisePath } from './options.js'
import { pinRoot, unpinAll } from './pin-root.js'
import type { EntryJob } from './file-entry.js'
import type { NodeSink } from './hamt.js'
import type { AddedPin } from './pin-root.js'
import type { AddAllEntry, AddAllOptions, AddedEntry } from './options.js'
import type { ContentComponents } from '../blocks/components.js'

type Source = Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>

/** The blocks written, less the empty-folder blocks of folders that got entries (not in the DAG). */
function dagBlocks (touched: Iterable<CID>, emptyBlocks: Map<string, boolean>): Iterable<CID> {
  // the empty-folder blocks left out (usually one: every empty folder is the same block), compared by bytes
  const out = [...emptyBlocks].filter(([, linked]) => !linked).map(([key]) => Buffer.from(key, 'base64'))
  if (out.length === 0) return touched
  // iterable again (the pin may read it twice: see pinRoot's blocksRepeat)
  return {
    * [Symbol.iterator] () {
      for (const cid of touched) {
        const mh = cid.multihash.bytes
        if (!out.some(o => o.length === mh.length && o.equals(mh))) yield cid
      }
    }
  }
}

export async function * addAll (components: ContentComponents, source: Source, options: AddAllOptions = {}): AsyncGenerator<AddedEntry> {
  options.signal?.throwIfAborted()
  const layout = folderLayout(options)
  const wrap = options.wrapWithDirectory === true
  const session = createWriteSession(components, { direct: true })
  const end = components.local.beginOperation()
  const tree = new DirTree({ strategy: layout.profile === 'unixfs-v0-2015' ? 'links-bytes' : 'block-bytes' })
  const isRoot = (path: string): boolean => wrap ? path === '' : !path.includes('/')
  const roots: AddedEntry[] = []
  let needsFullWalk = false
  /** the empty-folder blocks written (one per folder entry), and whether one stays linked as an empty folder */
  const emptyBlocks = new Map<string, boolean>()
  const pinned: AddedPin[] = []
  let done = false

  const putOptions = { signal: options.signal }
  // folder, shard, symlink nodes: named synchronously, so a shard's many nodes are written together (hamt.ts)
  const sink: NodeSink = {
    cid: (bytes) => blockCidSync({ bytes, code: dagPb.code, version: layout.file.cidVersion }),
    write: async (cid, bytes) => { await session.blockstore.put(cid, bytes, putOptions) }
  }
  const putNode = async (bytes: Uint8Array): Promise<CID> => {
    const cid = sink.cid(bytes)
    await sink.write(cid, bytes)
    return cid
  }
  const job: EntryJob = { layout, blockstore: session.blockstore, putNode, signal: options.signal, bigFiles: { running: 0, waiting: [] } }

  async function * entries (): AsyncGenerator<{ entry: AddAllEntry, path: string, dir: boolean }> {
    for await (const entry of source) {
      options.signal?.throwIfAborted()
      if (entry == null || typeof entry !== 'object') throw new InvalidArgumentError('Each entry must be an object with a path')
      const { path, dir } = normalisePath(entry.path)
      if (entry.link != null) {
        if (typeof entry.link !== 'string' || entry.link === '') throw new InvalidArgumentError(`Symlink ${path} needs a target`)
      } else if (dir && entry.content != null) {
        throw new InvalidArgumentError(`${path}: a path ending with '/' is a directory and takes no content`)
      }
      yield { entry, path, dir }
    }
  }

  const report = (entry: AddedEntry): AddedEntry | undefined => {
    options.onEntry?.(entry)
    if (!isRoot(entry.path)) return entry
    roots.push(entry)
    return undefined
  }

  try {
    for await (const r of orderedParallel(entries(), async (e) => importEntry(e.entry, e.path, e.dir, job), options.fileConcurrency ?? 32)) {
      if (r.type === 'directory') {
        // yielded when the folders are written (with its size, or empty)
        tree.addFolder(r.path, r, r.meta ?? {})
        emptyBlocks.set(mhKey(r.cid), false)
        continue
      }
      if (r.viaImporter) needsFullWalk = true
      tree.addLeaf(r.path, { cid: r.cid, tsize: r.tsize, contentBytes: r.size })
      const entry = report({ path: r.path, cid: r.cid, size: r.size, dagSize: r.tsize, type: r.type })
      if (entry != null) yield entry
    }
    options.signal?.throwIfAborted()
    for await (const d of tree.flush(sink, wrap)) {
      if (d.placeholder) emptyBlocks.set(mhKey(d.cid), true)
      const entry = report({ path: d.path, cid: d.cid, size: d.contentBytes, dagSize: d.tsize, type: 'directory' })
      if (entry != null) yield entry
    }
    options.signal?.throwIfAborted()
    if (options.pin !== false) {
      for (const root of roots) {
        const added = await pinRoot(components, root.cid, {
          size: root.size,
          name: roots.length === 1 ? options.name : undefined,
          // one root: every block this import put is in its DAG (unless the importer's own file builder ran)
          blocks: needsFullWalk || roots.length !== 1 ? undefined : dagBlocks(session.touched(), emptyBlocks),
          // a BlockSet (filtered the same way each time): a failed pin is undone by walking it again
          blocksRepeat: true,
          signal: options.signal
        })
        if (added != null) pinned.push(added)
      }
    }
    components.afterWrite?.()
    done = true
    for (const root of roots) yield root
  } catch (err) {
    throw translateError(err, undefined, options.signal)
  } finally {
    // failed, aborted, or the consumer stopped before the roots: nothing stays behind
    if (!done) {
      await unpinAll(components, pinned)
      await session.rollback()
    }
    end()
  }
}
