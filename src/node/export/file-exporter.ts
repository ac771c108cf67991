/**
 * Streams a UnixFS file (dag-pb file nodes and raw leaves) in order, or writes it to a file.
 * Each node's children are read ahead, at most `readAhead` blocks at a time per level, and
 * subtrees outside the requested range are skipped using the nodes' block sizes.
 *
 * The leaves (all but a few blocks of a file) go to the leaf workers (leaf-worker.ts) in
 * batches of about 4 MiB when the reader knows their local files: there they are read, hashed
 * against their CID and written at their offset (`writeTo`) or handed back in one buffer per
 * batch (`content`). A leaf a worker cannot take, and every inner node, is read through the
 * reader on the main thread. Memory stays flat: a few blocks per tree level, at most
 * `BATCHES_AHEAD` batches in flight.
 */
import { setMaxListeners } from 'node:events'
import fs from 'node:fs'
import * as dagPb from '@ipld/dag-pb'
import { logger } from '@libp2p/logger'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { InvalidArgumentError, StorageError } from '../../errors.js'
import { awaitedLater } from '../../util/promise.js'
import { leafWorkers } from './leaf-worker.js'
import { fsCall, writeAt, writeToFile } from './write-file.js'
import type { BlockReader } from './block-reader.js'
import type { LeafJob, LeafResult, LeafWorkers } from './leaf-worker.js'
import type { WriteFileOptions } from './write-file.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing:node:export:file')

/** Bytes a dag-pb leaf adds around its data (header and trailer), with room to spare. */
const LEAF_OVERHEAD = 64
const SHA2_256 = 0x12
/** Leaves larger than this are read on the main thread. */
const MAX_LEAF_BYTES = 4 * 1024 * 1024
/**
 * A batch of leaves holds about this many bytes (and at most MAX_BATCH_LEAVES leaves): 4 MiB
 * when the workers write them (their buffer is reused), 1 MiB when they hand them back (each
 * batch is a new buffer, garbage once consumed: a 256 MiB cat peaked at 191-205 MiB of RSS with
 * 4 MiB batches, 166-173 MiB with 1 MiB ones).
 */
const WRITE_BATCH_BYTES = 4 * 1024 * 1024
const READ_BATCH_BYTES = 1024 * 1024
const MAX_BATCH_LEAVES = 64
/** Batches of leaves in flight per tree level when written there (two per worker: one runs, one waits). */
const WRITE_BATCHES_AHEAD = 4
/** The same when handed back: a buffer in flight across scavenges is promoted, and freed only by a full GC. */
const READ_BATCHES_AHEAD = 2

export interface FileNode {
  /** File bytes held in this node itself (before its children). */
  data?: Uint8Array
  /** Children in file order with the file bytes under each, and the bytes of its DAG (the link's Tsize). */
  children: Array<{ cid: CID, size: number, dagSize?: number }>
  /** File bytes under this node. */
  size: number
}

export interface ContentOptions extends AbortOptions {
  /** @default 0 */
  offset?: number
  /** @default to the end */
  length?: number
}

export interface UnixfsFile {
  cid: CID
  /** File size in bytes. */
  size: number
  /** The bytes of the file (or of a range of it), in order. */
  content(options?: ContentOptions): AsyncGenerator<Uint8Array>
  /**
   * Writes the file to a new file at `path` (flag `wx` unless told): the leaves on the leaf
   * workers, the rest here. Resolves the bytes written. On error or abort nothing is being
   * written any more when it rejects; the caller removes the file.
   */
  writeTo(path: string, options?: Pick<WriteFileOptions, 'signal' | 'onProgress' | 'flags'>): Promise<number>
}

export interface ResolveFileOptions extends AbortOptions {
  /**
   * Blocks read ahead on each level of the tree.
   *
   * @default 16
   */
  readAhead?: number
  /**
   * Leaves read (and written) on the leaf workers when the reader knows their files.
   *
   * @default true
   */
  leafWorkers?: boolean
}

/** Decodes a file block. @throws {InvalidArgumentError} when it is not a UnixFS file or raw block */
export function decodeFileNode (cid: CID, bytes: Uint8Array): FileNode {
  if (cid.code === raw.code) return { data: bytes, children: [], size: bytes.byteLength }
  if (cid.code !== dagPb.code) throw new InvalidArgumentError(`${cid} is not a file (codec 0x${cid.code.toString(16)})`)
  const node = dagPb.decode(bytes)
  if (node.Data == null) throw new InvalidArgumentError(`${cid} is not a UnixFS file`)
  let unixfs: UnixFS
  try {
    unixfs = UnixFS.unmarshal(node.Data)
  } catch (err) {
    throw new InvalidArgumentError(`${cid} is not a UnixFS file`, { cause: err })
  }
  if (unixfs.type !== 'file' && unixfs.type !== 'raw') throw new InvalidArgumentError(`${cid} is not a file (${unixfs.type})`)
  if (node.Links.length !== unixfs.blockSizes.length) throw new StorageError(`${cid}: inconsistent block sizes and links`)
  const data = unixfs.data != null && unixfs.data.byteLength > 0 ? unixfs.data : undefined
  return {
    data,
    children: node.Links.map((l, i) => ({ cid: l.Hash, size: Number(unixfs.blockSizes[i]), dagSize: l.Tsize })),
    size: Number(unixfs.fileSize())
  }
}

/** Reads the root of a file. @throws {InvalidArgumentError} when `cid` is not a file */
export async function resolveFile (cid: CID, reader: BlockReader, options: ResolveFileOptions = {}): Promise<UnixfsFile> {
  const wantWorkers = options.leafWorkers !== false && reader.localFile != null
  // the I/O threads boot while the root and the first inner nodes are read
  if (wantWorkers) leafWorkers()
  const root = decodeFileNode(cid, await reader.get(cid, options))
  const readAhead = Math.max(1, options.readAhead ?? 16)
  const workers = (): LeafWorkers | undefined => wantWorkers ? leafWorkers() : undefined
  return {
    cid,
    size: root.size,
    content: (opts = {}) => streamFile(root, { reader, readAhead, workers: workers() }, opts),
    writeTo: async (path, opts = {}) => {
      const w = workers()
      if (w == null) return writeToFile(streamFile(root, { reader, readAhead }, { signal: opts.signal }), path, opts)
      return writeFile(root, { reader, readAhead, workers: w }, path, opts)
    }
  }
}

interface Walk {
  reader: BlockReader
  readAhead: number
  workers?: LeafWorkers
}

/** Some file bytes at `pos` (of the output): here, or written by a leaf worker. */
type Piece = { pos: number, bytes: Uint8Array, written?: undefined } | { pos: number, written: number, bytes?: undefined }

async function * streamFile (root: FileNode, walk: Walk, options: ContentOptions): AsyncGenerator<Uint8Array> {
  for await (const piece of pieces(root, walk, options)) {
    if (piece.bytes != null) yield piece.bytes
  }
}

async function writeFile (root: FileNode, walk: Walk, path: string, options: Pick<WriteFileOptions, 'signal' | 'onProgress' | 'flags'>): Promise<number> {
  options.signal?.throwIfAborted()
  const fd = await fsCall<number>(cb => { fs.open(path, options.flags ?? 'wx', 0o666, cb) })
  let total = 0
  try {
    for await (const piece of pieces(root, walk, { signal: options.signal }, fd)) {
      if (piece.bytes != null) {
        await writeAt(fd, piece.bytes, piece.pos)
        total += piece.bytes.byteLength
      } else {
        total += piece.written
      }
      options.onProgress?.(total)
    }
    options.signal?.throwIfAborted()
    return total
  } finally {
    // every leaf batch has settled here (pieces() waits for them): no worker writes to fd any more
    await fsCall<void>(cb => { fs.close(fd, (err) => { cb(err, undefined) }) })
  }
}

interface Wanted { cid: CID, offset: number, size: number, dagSize?: number }
type Task =
  | { kind: 'node', child: Wanted, p: Promise<Uint8Array> }
  | { kind: 'leaves', jobs: Array<{ job: LeafJob, child: Wanted }>, p: Promise<LeafResult> }

/**
 * The file's bytes in [offset, offset + length) as pieces in order; with `fd`, the leaf
 * workers write theirs into it (pieces of `written` bytes), otherwise they hand them back.
 */
async function * pieces (root: FileNode, walk: Walk, options: ContentOptions, fd?: number): AsyncGenerator<Piece> {
  const { reader, readAhead, workers } = walk
  const start = Math.min(options.offset ?? 0, root.size)
  const end = options.length == null ? root.size : Math.min(root.size, start + options.length)
  if (end <= start) return
  // reads still in flight are cancelled when the consumer stops early
  const controller = new AbortController()
  const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
  // every read in flight listens to it
  setMaxListeners(Infinity, signal)
  try {
    yield * emit(root, 0)
  } finally {
    controller.abort()
  }

  /** A leaf the workers can take, or undefined. */
  function leafJob (child: Wanted): LeafJob | undefined {
    const { cid } = child
    if (workers == null || reader.localFile == null || cid.multihash.code !== SHA2_256) return undefined
    const pb = cid.code === dagPb.code
    if (!pb && cid.code !== raw.code) return undefined
    // a raw leaf weighs its size; a dag-pb leaf's DAG is the leaf: its Tsize is its block size
    const block = pb ? child.dagSize : child.size
    if (block == null || block < child.size || block - child.size > LEAF_OVERHEAD || block > MAX_LEAF_BYTES) return undefined
    const skip = Math.max(0, start - child.offset)
    const take = Math.min(child.offset + child.size, end) - child.offset - skip
    // a copy: the digest is a view into the parent block, which structured cloning would copy whole
    const digest = reader.verifies === false ? undefined : cid.multihash.digest.slice()
    return { file: reader.localFile(cid), digest, pb, block, size: child.size, skip, take, pos: child.offset + skip - start }
  }

  async function submit (jobs: LeafJob[]): Promise<LeafResult> {
    const w = workers as LeafWorkers
    return fd != null ? w.write(fd, jobs) : w.read(jobs)
  }

  /** The pieces of a batch's result; the leaf it stopped at read here, the rest sent again. */
  async function * finish (jobs: Array<{ job: LeafJob, child: Wanted }>, r: LeafResult): AsyncGenerator<Piece> {
    if (r.error != null) {
      const err: NodeJS.ErrnoException = new Error(r.message ?? r.error)
      err.code = r.error
      throw err
    }
    if (fd != null) {
      let written = 0
      for (let i = 0; i < r.done; i++) written += jobs[i].job.take
      if (written > 0) yield { pos: jobs[0].job.pos, written }
    } else if (r.out != null && r.slices != null) {
      for (let i = 0; i < r.done; i++) {
        const [s, e] = [r.slices[2 * i], r.slices[2 * i + 1]]
        if (e > s) yield { pos: jobs[i].job.pos, bytes: new Uint8Array(r.out, s, e - s) }
      }
    }
    if (r.done >= jobs.length) return
    const stuck = jobs[r.done]
    log('leaf %c read on the main thread: %s', stuck.child.cid, r.why)
    const bytes = await reader.get(stuck.child.cid, { signal, expectedSize: stuck.job.block })
    yield * emit(decodeFileNode(stuck.child.cid, bytes), stuck.child.offset)
    const rest = jobs.slice(r.done + 1)
    if (rest.length === 0) return
    signal.throwIfAborted()
    yield * finish(rest, await submit(rest.map(j => j.job)))
  }

  async function * emit (node: FileNode, nodeStart: number): AsyncGenerator<Piece> {
    let pos = nodeStart
    if (node.data != null) {
      const from = Math.max(start, pos)
      const to = Math.min(end, pos + node.data.byteLength)
      if (to > from) yield { pos: from - start, bytes: node.data.subarray(from - pos, to - pos) }
      pos += node.data.byteLength
    }
    const wanted: Wanted[] = []
    for (const child of node.children) {
      if (child.size > 0 && pos < end && pos + child.size > start) wanted.push({ cid: child.cid, offset: pos, size: child.size, dagSize: child.dagSize })
      pos += child.size
    }
    const jobs = wanted.map(leafJob)
    const pending: Task[] = []
    let nodes = 0
    let batches = 0
    let next = 0
    const fill = (): void => {
      while (next < wanted.length) {
        if (jobs[next] == null) {
          if (nodes >= readAhead) return
          const child = wanted[next++]
          const leafLike = child.dagSize != null && child.dagSize >= child.size && child.dagSize - child.size <= LEAF_OVERHEAD
          const p = reader.get(child.cid, { signal, expectedSize: leafLike ? child.dagSize : undefined })
          awaitedLater(p) // awaited in order below
          pending.push({ kind: 'node', child, p })
          nodes++
        } else {
          if (batches >= (fd != null ? WRITE_BATCHES_AHEAD : READ_BATCHES_AHEAD)) return
          const batch: Array<{ job: LeafJob, child: Wanted }> = []
          let bytes = 0
          const batchBytes = fd != null ? WRITE_BATCH_BYTES : READ_BATCH_BYTES
          while (next < wanted.length && jobs[next] != null && bytes < batchBytes && batch.length < MAX_BATCH_LEAVES) {
            const job = jobs[next] as LeafJob
            batch.push({ job, child: wanted[next++] })
            bytes += job.block
          }
          const p = submit(batch.map(b => b.job))
          awaitedLater(p)
          pending.push({ kind: 'leaves', jobs: batch, p })
          batches++
        }
      }
    }
    try {
      for (;;) {
        signal.throwIfAborted()
        fill()
        const task = pending.shift()
        if (task == null) return
        if (task.kind === 'node') {
          const bytes = await task.p
          nodes--
          fill()
          yield * emit(decodeFileNode(task.child.cid, bytes), task.child.offset)
        } else {
          const r = await task.p
          batches--
          fill()
          yield * finish(task.jobs, r)
        }
      }
    } finally {
      // no batch may still write into the caller's file once this returns
      await Promise.allSettled(pending.flatMap(t => t.kind === 'leaves' ? [t.p] : []))
    }
  }
}
