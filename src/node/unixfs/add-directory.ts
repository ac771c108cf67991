/**
 * addDirectory: a folder on disk, as `ipfs add -r <dir>` adds it. The tree is
 * walked one folder at a time, its entries streamed from the OS (`opendir`:
 * a 100,000-file folder is never listed into memory at once); a folder's
 * files and symlinks are yielded in the order the OS lists them, then its
 * sub-folders (in the order `readdir` gave them before) (the CIDs do not depend on the order: the
 * folders are built from the whole set of names). The files' bytes are read
 * only while each file is imported, at most `fileConcurrency` files open;
 * names starting with '.' are skipped unless
 * `hidden`; symlinks are stored as UnixFS symlinks (their target as text,
 * never followed) or refused with SymlinkNotAllowedError. Empty folders are
 * kept. The given folder is the root, named after its basename.
 */
import { open, lstat, opendir, readlink, stat } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { InvalidArgumentError, SymlinkNotAllowedError } from '../../errors.js'
import { readFileChunks } from '../import/index.js'
import { allocChunk } from '../import/headroom.js'
import { addAll } from './add-all.js'
import { fsWorker, MAX_BYTES } from '../../util/fs-worker.js'
import { folderLayout } from './options.js'
import type { AddAllEntry, AddAllOptions, AddedEntry } from './options.js'
import type { ContentComponents } from '../blocks/components.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Dir, Dirent } from 'node:fs'

/**
 * A file's bytes in `chunkSize` chunks. A file of at most one chunk (most
 * files of a big folder) is read whole on the fs worker (util/fs-worker.ts,
 * batched with the other files being read), or else in one read into a
 * buffer of its own size (with room for its leaf's header).
 */
async function * fileContent (path: string, chunkSize: number, options: AbortOptions): AsyncGenerator<Uint8Array> {
  // a small file: read whole on the fs worker, in a batch with the others being read
  const worker = chunkSize <= MAX_BYTES ? fsWorker('read') : undefined
  if (worker != null) {
    const { bytes } = await worker.readSmall(path, chunkSize)
    if (bytes != null) {
      yield bytes
      return
    }
  }
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    if (size < chunkSize) {
      const buf = allocChunk(size)
      let filled = 0
      while (filled < size) {
        const { bytesRead } = await handle.read(buf, filled, size - filled, filled)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      // a file that grew while read: the rest in chunks after the first
      if (filled === size && size > 0) yield buf
      else if (filled > 0) yield buf.subarray(0, filled)
      if (filled < size) return
      const more = await handle.read(Buffer.alloc(1), 0, 1, size)
      if (more.bytesRead === 0) return
      throw new InvalidArgumentError(`${path} changed while it was being added`)
    }
    yield * readFileChunks(handle, chunkSize, options)
  } finally {
    await handle.close()
  }
}

/** The entries of a folder tree on disk, parents before their children. */
export async function * walkDirectory (root: string, options: AddAllOptions = {}): AsyncGenerator<AddAllEntry> {
  const chunkSize = folderLayout(options).file.chunkSize
  const full = resolve(root)
  let info
  try {
    info = await stat(full)
  } catch (err: any) {
    throw new InvalidArgumentError(`Cannot read ${root}: ${err.code ?? err.message}`, { cause: err })
  }
  const name = basename(full)
  if (info.isFile()) {
    yield { path: name, content: fileContent(full, chunkSize, options) }
    return
  }
  if (!info.isDirectory()) throw new InvalidArgumentError(`${root} is neither a file nor a directory`)
  const stack: Array<{ abs: string, rel: string }> = [{ abs: full, rel: name }]
  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const dir = stack.pop() as { abs: string, rel: string }
    yield { path: `${dir.rel}/` }
    let listing: Dir
    try {
      listing = await opendir(dir.abs, { bufferSize: 256 })
    } catch (err: any) {
      throw new InvalidArgumentError(`Cannot read ${dir.abs}: ${err.code ?? err.message}`, { cause: err })
    }
    const subdirs: string[] = []
    // for await closes the listing when the loop ends, throws or is returned from
    for await (const d of readEntries(listing, dir.abs)) {
      if (options.hidden !== true && d.name.startsWith('.')) continue
      const abs = join(dir.abs, d.name)
      const rel = `${dir.rel}/${d.name}`
      if (d.isDirectory()) {
        subdirs.push(d.name)
      } else if (d.isFile()) {
        yield { path: rel, content: fileContent(abs, chunkSize, options) }
      } else if (d.isSymbolicLink()) {
        if (options.symlinks === 'refuse') throw new SymlinkNotAllowedError(`${abs} is a symlink (symlinks: 'refuse')`)
        yield { path: rel, link: await readlink(abs) }
      } else {
        const kind = await lstat(abs).then(s => s.isFIFO() ? 'a FIFO' : s.isSocket() ? 'a socket' : 'a device', () => 'unreadable')
        throw new InvalidArgumentError(`${abs} is ${kind}: only files, folders and symlinks can be added`)
      }
    }
    // pushed in byte order of the names, as `readdir` (a sorted scandir) listed them before
    subdirs.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    for (const name of subdirs) stack.push({ abs: join(dir.abs, name), rel: `${dir.rel}/${name}` })
  }
}

/** The entries of an open folder, a read error named as the folder's. */
async function * readEntries (listing: Dir, abs: string): AsyncGenerator<Dirent> {
  try {
    for await (const d of listing) yield d
  } catch (err: any) {
    throw new InvalidArgumentError(`Cannot read ${abs}: ${err.code ?? err.message}`, { cause: err })
  }
}

/** Adds a folder tree from disk; yields every entry, the root last (see addAll). */
export function addDirectoryEntries (components: ContentComponents, path: string, options: AddAllOptions = {}): AsyncGenerator<AddedEntry> {
  return addAll(components, walkDirectory(path, options), { name: basename(resolve(path)), ...options })
}

/** Adds a folder tree from disk and returns its root entry. */
export async function addDirectory (components: ContentComponents, path: string, options: AddAllOptions = {}): Promise<AddedEntry> {
  let root: AddedEntry | undefined
  for await (const entry of addDirectoryEntries(components, path, options)) root = entry
  if (root == null) throw new InvalidArgumentError(`Nothing to add in ${path}`)
  return root
}
