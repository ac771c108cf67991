/**
 * Downloading a UnixFS directory to disk: the tree is written into a hidden
 * temp folder beside the destination and renamed into place once complete,
 * so nothing half-written is ever left under the destination's name (the
 * temp folder is removed on failure). The destination is checked before
 * anything is fetched. Names from the DAG are checked (no '/', '.', '..' or
 * NUL) so a hostile DAG cannot write outside the tree; symlinks are written
 * as symlinks, never followed.
 *
 * A folder of many small files is mostly per-file fs calls, so the entries of
 * a directory are taken in batches: the blocks of a batch are read at once
 * (local ones straight from their files, through the fs read worker: one
 * round trip for the batch), each is decoded once, and the files held whole
 * in their one block are created at once too (through the fs write worker).
 * Files of several blocks stream through the file exporter, a few at a time.
 */
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { exporter } from 'ipfs-unixfs-exporter'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { logger } from '@libp2p/logger'
import { DestinationError, InvalidArgumentError } from '../../errors.js'
import { collect } from '../dag.js'
import { createLocalFirstBlockReader, resolveFile } from '../export/index.js'
import { fsWorker, MAX_WRITE_BYTES } from '../../util/fs-worker.js'
import type { BlockLayout } from '../../blockstore/block-layout.js'
import type { ContentComponents } from '../blocks/components.js'
import type { BlockReader } from '../export/index.js'
import type { ProgressOptions } from '../options.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing-storage:get-directory')

export interface GetDirectoryOptions extends ProgressOptions {
  /** Files of several blocks written at once. @default 16 */
  concurrency?: number
  /** Directory entries whose blocks are read (and whose one-block files are written) at once. @default 64 */
  batch?: number
}

export interface GetDirectoryComponents extends Pick<ContentComponents, 'blockstore'> {
  /** The local block files: local blocks are read from them directly, in batches. */
  layout?: Pick<BlockLayout, 'readBatched'> & Partial<Pick<BlockLayout, 'pathOf'>>
  /** Called before a block is read straight from its file (gc protection: `WriteSession.recordRead`). */
  onRead?: (cid: CID) => void
  /** Hash the blocks read from local files against their CIDs (the node's `hashOnRead`). @default true */
  verify?: boolean
}

/**
 * Checks a download destination before any byte is fetched.
 *
 * @throws {DestinationError} when `target` exists or its parent folder is missing
 */
export async function checkDestination (target: string): Promise<void> {
  const exists = await lstat(target).then(() => true, (err: any) => {
    if (err.code === 'ENOENT') return false
    throw new DestinationError(`Cannot use ${target}: ${err.code ?? err.message}`, { cause: err })
  })
  if (exists) throw new DestinationError(`${target} already exists`)
  const parent = dirname(resolve(target))
  const info = await stat(parent).catch((err: any) => {
    throw new DestinationError(`The folder ${parent} does not exist (${err.code ?? err.message})`, { cause: err })
  })
  if (!info.isDirectory()) throw new DestinationError(`${parent} is not a folder`)
}

/** A name from a directory node, safe to use as one path component. */
function safeName (name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) {
    throw new InvalidArgumentError(`Refusing to write an entry named ${JSON.stringify(name.slice(0, 100))}`)
  }
  return name
}

/** What one directory entry is, from its one block. */
type Entry =
  | { kind: 'dir' }
  | { kind: 'symlink', target: string }
  | { kind: 'small', data: Uint8Array }
  | { kind: 'large' }

function classify (cid: CID, bytes: Uint8Array): Entry {
  if (cid.code === raw.code) return { kind: 'small', data: bytes }
  if (cid.code !== dagPb.code) throw new InvalidArgumentError(`${cid} is neither a file nor a directory`)
  const node = dagPb.decode(bytes)
  if (node.Data == null) throw new InvalidArgumentError(`${cid} is neither a file nor a directory`)
  let unixfs: UnixFS
  try {
    unixfs = UnixFS.unmarshal(node.Data)
  } catch (err) {
    throw new InvalidArgumentError(`${cid} is not a UnixFS node`, { cause: err })
  }
  switch (unixfs.type) {
    case 'directory':
    case 'hamt-sharded-directory':
      return { kind: 'dir' }
    case 'symlink':
      return { kind: 'symlink', target: new TextDecoder().decode(unixfs.data ?? new Uint8Array(0)) }
    case 'file':
    case 'raw':
      return node.Links.length === 0 ? { kind: 'small', data: unixfs.data ?? new Uint8Array(0) } : { kind: 'large' }
    default:
      throw new InvalidArgumentError(`${cid} is neither a file nor a directory (${unixfs.type})`)
  }
}

/** Creates a new file holding `data` (flag `wx`); small ones through the fs write worker, in batches. */
async function createSmallFile (path: string, data: Uint8Array, options: AbortOptions): Promise<void> {
  const worker = data.byteLength <= MAX_WRITE_BYTES ? fsWorker('write') : undefined
  if (worker != null) await worker.createFile(path, data)
  else await writeFile(path, data, { flag: 'wx', signal: options.signal })
}

/** Writes the directory `cid` to `target` (which must not exist). Returns `target`. */
export async function getDirectory (components: GetDirectoryComponents, cid: CID, target: string, options: GetDirectoryOptions = {}): Promise<string> {
  options.signal?.throwIfAborted()
  await checkDestination(target)
  const temp = join(dirname(resolve(target)), `.${basename(target)}.${randomBytes(6).toString('hex')}.part`)
  const concurrency = Math.max(1, options.concurrency ?? 16)
  const batchSize = Math.max(1, options.batch ?? 64)
  let bytes = 0
  const inFlight = new Set<Promise<void>>()
  let failure: { err: unknown } | undefined
  const progress = (n: number): void => {
    bytes += n
    options.onProgress?.({ bytes })
  }

  // local blocks from their files (touched first, for gc), others through Helia's blockstore
  const layout = components.layout
  const reader: BlockReader = layout != null
    ? createLocalFirstBlockReader({
      layout,
      onRead: components.onRead,
      verify: components.verify ?? true,
      fallback: async (c, o) => collect(components.blockstore.get(c, o) as AsyncIterable<Uint8Array>)
    })
    : { get: async (c, o) => collect(components.blockstore.get(c, o) as AsyncIterable<Uint8Array>) }
  // what the exporter reads a directory (and its HAMT shards) through
  const store = { get: async function * (c: CID, o?: AbortOptions) { yield await reader.get(c, o) } }

  const writeLarge = async (c: CID, path: string): Promise<void> => {
    const file = await resolveFile(c, reader, { signal: options.signal })
    let done = 0
    await file.writeTo(path, {
      signal: options.signal,
      onProgress: (n) => { progress(n - done); done = n }
    })
  }

  const spawn = async (work: Promise<void>): Promise<void> => {
    const p = work.catch(err => { failure ??= { err } }).finally(() => { inFlight.delete(p) })
    inFlight.add(p)
    if (inFlight.size >= concurrency) await Promise.race(inFlight)
  }

  const stack: Array<{ cid: CID, path: string }> = [{ cid, path: temp }]
  /** One batch of a directory's entries: blocks read at once, one-block files created at once. */
  const writeBatch = async (links: Array<{ name: string, cid: CID }>, parent: string): Promise<void> => {
    const paths = links.map(l => join(parent, safeName(l.name)))
    const blocks = await Promise.all(links.map(async l => reader.get(l.cid, { signal: options.signal })))
    const small: Array<Promise<void>> = []
    for (let i = 0; i < links.length; i++) {
      const entry = classify(links[i].cid, blocks[i])
      if (entry.kind === 'dir') {
        await mkdir(paths[i])
        stack.push({ cid: links[i].cid, path: paths[i] })
      } else if (entry.kind === 'symlink') {
        await symlink(entry.target, paths[i])
      } else if (entry.kind === 'small') {
        const data = entry.data
        small.push(createSmallFile(paths[i], data, options).then(() => { progress(data.byteLength) }))
      } else {
        await spawn(writeLarge(links[i].cid, paths[i]))
      }
    }
    // every create settled before the batch ends (a failed get removes the temp folder after)
    const settled = await Promise.allSettled(small)
    const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (rejected != null) throw rejected.reason
  }

  try {
    await mkdir(temp)
    while (stack.length > 0 && failure == null) {
      options.signal?.throwIfAborted()
      const dir = stack.pop() as { cid: CID, path: string }
      const node = await exporter(dir.cid, store, { signal: options.signal })
      if (node.type !== 'directory') throw new InvalidArgumentError(`${dir.cid} is not a directory`)
      let links: Array<{ name: string, cid: CID }> = []
      for await (const link of node.entries({ signal: options.signal })) {
        if (failure != null) break
        links.push({ name: link.name, cid: link.cid })
        if (links.length >= batchSize) {
          await writeBatch(links, dir.path)
          links = []
        }
      }
      if (links.length > 0 && failure == null) await writeBatch(links, dir.path)
    }
    await Promise.all(inFlight)
    if (failure != null) throw failure.err
    await rename(temp, target)
    return target
  } catch (err) {
    await Promise.allSettled(inFlight)
    await rm(temp, { recursive: true, force: true }).catch((e: unknown) => { log.error('could not remove %s: %e', temp, e) })
    throw err
  }
}
