/**
 * addAll: files, folders and symlinks as one UnixFS tree, with the CIDs of
 * Kubo's `ipfs add -r`. ipfs-unixfs-importer builds the directories (flat,
 * or HAMT-sharded past its profile's threshold: IPIP-499 `unixfs-v0-2015`
 * with the "links-bytes" estimate for 'kubo', `unixfs-v1-2025` for
 * 'cidv1'); file contents go through our own importer (import/: the same
 * CIDs, hashed in worker threads). A file's bytes are never held: the tree
 * keeps each entry's CID and sizes only.
 *
 * All or nothing: the roots are pinned once at the end; on any failure (or
 * when the caller stops iterating early) the blocks this call newly wrote
 * and no pin holds are deleted before the error is returned.
 */
import * as dagPb from '@ipld/dag-pb'
import { importer } from 'ipfs-unixfs-importer'
import { UnixFS } from 'ipfs-unixfs'
import { CID as CIDClass } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { InvalidArgumentError } from '../../errors.js'
import { translateError } from '../cid.js'
import { importFile } from '../import/index.js'
import { createWriteSession } from '../blocks/write-session.js'
import { folderLayout, normalisePath } from './options.js'
import { pinRoot, unpinAll } from './pin-root.js'
import type { AddedPin } from './pin-root.js'
import type { AddAllEntry, AddAllOptions, AddedEntry } from './options.js'
import type { ContentComponents } from '../blocks/components.js'
import type { ImportCandidate, ImporterOptions } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'

type Source = Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>
type FileBuilder = NonNullable<ImporterOptions['fileBuilder']>
type DirBuilder = NonNullable<ImporterOptions['dirBuilder']>

/**
 * The same CID over one shared slab of bytes (its views are the CID's only
 * objects): the importer's tree holds one per file until its folder is written.
 */
let slab = new Uint8Array(0)
let slabOffset = 0
function compactCid (cid: CID): CID {
  const bytes = cid.bytes
  if (slabOffset + bytes.byteLength > slab.byteLength) {
    slab = new Uint8Array(256 * 1024)
    slabOffset = 0
  }
  const view = slab.subarray(slabOffset, slabOffset + bytes.byteLength)
  view.set(bytes)
  slabOffset += bytes.byteLength
  return CIDClass.decode(view)
}

function parentOf (path: string): string {
  const i = path.lastIndexOf('/')
  return i < 0 ? '' : path.slice(0, i)
}

/** Chunks pass through: importFile cuts them itself (whole chunks without a copy). */
const passThrough = (source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> => source

export async function * addAll (components: ContentComponents, source: Source, options: AddAllOptions = {}): AsyncGenerator<AddedEntry> {
  options.signal?.throwIfAborted()
  const layout = folderLayout(options)
  const session = createWriteSession(components)
  const end = components.local.beginOperation()
  /** content bytes of each file not yet reported, and totals of each directory */
  const fileSizes = new Map<string, number>()
  const inTree = new Map<string, { path?: string, originalPath?: string }>()
  const types = new Map<string, 'symlink' | 'directory'>()
  const dirTotals = new Map<string, number>()
  const roots: Array<{ cid: CID, entry: AddedEntry }> = []
  let needsFullWalk = false
  const pinned: AddedPin[] = []
  let done = false

  const fileBuilder: FileBuilder = async (file, blockstore, opts) => {
    if (file.mode != null || file.mtime != null) {
      // metadata needs the importer's own file builder; its blocks are not all in the final DAG
      needsFullWalk = true
      let last
      for await (const r of importer([{ content: file.content, mode: file.mode, mtime: file.mtime }], blockstore, {
        ...importerOptions(),
        chunker: fixedSize({ chunkSize: layout.file.chunkSize }),
        layout: balanced({ maxChildrenPerNode: layout.file.maxChildrenPerNode })
      })) last = r
      if (last == null) throw new Error('importer yielded nothing')
      fileSizes.set(file.path ?? '', Number(last.unixfs?.fileSize() ?? 0n))
      return { cid: last.cid, size: last.size, path: file.path, originalPath: file.originalPath }
    }
    const r = await importFile(file.content, blockstore, { layout: layout.file, signal: opts.signal ?? options.signal })
    fileSizes.set(file.path ?? '', r.size)
    const result = { cid: compactCid(r.cid), size: BigInt(r.dagSize), path: file.path, originalPath: file.originalPath }
    inTree.set(file.path ?? '', result)
    return result
  }

  // the importer links a folder that stays empty into its parent but never yields it: we do, before the parent
  const emptyDirs = new Map<string, AddedEntry[]>()
  const flushedDirs = new Set<string>()
  const dirBuilder: DirBuilder = async (d, blockstore) => {
    const unixfs = new UnixFS({ type: 'directory', mtime: d.mtime, mode: d.mode })
    const block = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal() }))
    const cid = CIDClass.create(layout.file.cidVersion, dagPb.code, await sha256.digest(block))
    await blockstore.put(cid, block, { signal: options.signal })
    const path = d.path ?? ''
    const entry: AddedEntry = { path, cid, size: 0, dagSize: block.byteLength, type: 'directory' }
    const siblings = emptyDirs.get(parentOf(path)) ?? []
    siblings.push(entry)
    emptyDirs.set(parentOf(path), siblings)
    return { cid, path: d.path, unixfs, size: BigInt(block.byteLength), originalPath: d.originalPath }
  }

  const importerOptions = (): ImporterOptions & { signal?: AbortSignal } => ({
    profile: layout.profile,
    cidVersion: layout.file.cidVersion,
    rawLeaves: layout.file.rawLeaves,
    wrapWithDirectory: options.wrapWithDirectory === true,
    signal: options.signal
  })

  async function * candidates (): AsyncGenerator<ImportCandidate> {
    for await (const entry of source) {
      options.signal?.throwIfAborted()
      if (entry == null || typeof entry !== 'object') throw new InvalidArgumentError('Each entry must be an object with a path')
      const { path, dir } = normalisePath(entry.path)
      const meta = { ...(entry.mode != null ? { mode: entry.mode } : {}), ...(entry.mtime != null ? { mtime: { secs: BigInt(entry.mtime.secs), nsecs: entry.mtime.nsecs } } : {}) }
      if (entry.link != null) {
        if (typeof entry.link !== 'string' || entry.link === '') throw new InvalidArgumentError(`Symlink ${path} needs a target`)
        types.set(path, 'symlink')
        yield { path, link: entry.link, ...meta }
      } else if (dir || entry.content == null) {
        if (entry.content != null) throw new InvalidArgumentError(`${path}: a path ending with '/' is a directory and takes no content`)
        types.set(path, 'directory')
        yield { path, ...meta }
      } else {
        yield { path, content: entry.content, ...meta }
      }
    }
  }

  const toEntry = (r: { cid: CID, path?: string, size: bigint, unixfs?: { type: string } }): AddedEntry => {
    const path = r.path ?? ''
    const isDir = r.unixfs?.type === 'directory' || r.unixfs?.type === 'hamt-sharded-directory' || types.get(path) === 'directory'
    const type = isDir ? 'directory' : types.get(path) === 'symlink' ? 'symlink' : 'file'
    let size = 0
    if (type === 'file') {
      size = fileSizes.get(path) ?? 0
      fileSizes.delete(path)
      // add the file's bytes to every directory above it
      for (let i = path.lastIndexOf('/'); ; i = path.lastIndexOf('/', i - 1)) {
        const parent = i < 0 ? '' : path.slice(0, i)
        dirTotals.set(parent, (dirTotals.get(parent) ?? 0) + size)
        if (i <= 0) break
      }
    } else if (type === 'directory') {
      size = dirTotals.get(path) ?? 0
    }
    return { path, cid: r.cid, size, dagSize: Number(r.size), type }
  }

  try {
    for await (const r of importer(candidates(), session.blockstore, {
      ...importerOptions(),
      chunker: passThrough,
      fileBuilder,
      dirBuilder,
      fileImportConcurrency: options.fileConcurrency ?? 32
    })) {
      const entry = toEntry(r)
      // the importer's tree keeps the file builder's result until the folder is written, using only its cid and size
      const held = inTree.get(entry.path)
      if (held != null) {
        inTree.delete(entry.path)
        delete held.path
        delete held.originalPath
      }
      if (entry.type === 'directory') {
        flushedDirs.add(entry.path)
        for (const empty of emptyDirs.get(entry.path) ?? []) {
          if (flushedDirs.has(empty.path)) continue // it got children after all: yielded by the importer
          options.onEntry?.(empty)
          yield empty
        }
        emptyDirs.delete(entry.path)
      }
      if (!entry.path.includes('/')) roots.push({ cid: entry.cid, entry })
      // a directory yielded after its children: the entries below it are reported
      if (entry.type === 'directory') types.delete(entry.path)
      options.onEntry?.(entry)
      // hold back the top-level entries: they are yielded once pinned
      if (entry.path.includes('/')) yield entry
    }
    options.signal?.throwIfAborted()
    if (options.pin !== false) {
      for (const root of roots) {
        const added = await pinRoot(components, root.cid, {
          size: root.entry.size,
          name: roots.length === 1 ? options.name : undefined,
          // one root: every block this import put is in its DAG (unless the importer's own file builder ran)
          blocks: needsFullWalk || roots.length !== 1 ? undefined : session.touched(),
          signal: options.signal
        })
        if (added != null) pinned.push(added)
      }
    }
    components.afterWrite?.()
    done = true
    for (const root of roots) yield root.entry
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
