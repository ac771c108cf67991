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
 * `WRITE_BATCHES_AHEAD` / `READ_BATCHES_AHEAD` batches in flight for the whole file (one window
 * over the tree, not one per node: a window per inner node drained at the end of each of them,
 * the workers idle while the next node's first batches were sent; 6 times in a 256 MiB file).
 */
import { setMaxListeners } from 'node:events'
import fs from 'node:fs'
import * as dagPb from '@ipld/dag-pb'
import { logger } from '@libp2p/logger'
import * as raw from 'multiformats/codecs/raw'
import { awaitedLater } from '../../util/promise.js'
import { decodeFileNode } from './file-node.js'
import { leafWorkers } from './leaf-worker.js'
import { fsCall, writeAt, writeToFile } from './write-file.js'
import type { BlockReader } from './block-reader.js'
import type { FileNode } from './file-node.js'
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
/** Batches of leaves in flight when written there (two per worker: one runs, one waits). */
const WRITE_BATCHES_AHEAD = 4
/** The same when handed back: a buffer in flight across scavenges is promoted, and freed only by a full GC. */
const READ_BATCHES_AHEAD = 2

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

/** Some file bytes at `pos` (of the output). */
interface Piece { pos: number, bytes: Uint8Array }

async function * streamFile (root: FileNode, walk: Walk, options: ContentOptions): AsyncGenerator<Uint8Array> {
  const plan = planner(root, walk, options)
  try {
    for await (const piece of inOrder(plan, plan.root())) yield piece.bytes
  } finally {
    plan.close()
  }
}

async function writeFile (root: FileNode, walk: Walk, path: string, options: Pick<WriteFileOptions, 'signal' | 'onProgress' | 'flags'>): Promise<number> {
  options.signal?.throwIfAborted()
  const fd = await fsCall<number>(cb => { fs.open(path, options.flags ?? 'wx', 0o666, cb) })
  const plan = planner(root, walk, { signal: options.signal }, fd)
  try {
    let total = 0
    await inAnyOrder(plan, plan.root(), fd, (bytes) => {
      total += bytes
      options.onProgress?.(total)
    })
    options.signal?.throwIfAborted()
    return total
  } finally {
    plan.close()
    // every leaf batch has settled here (inAnyOrder waits for them): no worker writes to fd any more
    await fsCall<void>(cb => { fs.close(fd, (err) => { cb(err, undefined) }) })
  }
}

interface Wanted { cid: CID, offset: number, size: number, dagSize?: number }
interface Batch { jobs: Array<{ job: LeafJob, child: Wanted }>, p: Promise<LeafResult> }
/** What the walk gives, in file order: bytes read here, or a batch of leaves sent to a worker. */
type Planned = { piece: Piece, batch?: undefined } | { batch: Batch, piece?: undefined }

interface Plan {
  /** The planned pieces of the whole range, in file order; a batch is sent when it is pulled. */
  root(): AsyncGenerator<Planned>
  /** The same for a node at `nodeStart` of the file (a leaf a worker could not take, read here). */
  node(node: FileNode, nodeStart: number): AsyncGenerator<Planned>
  /** A batch's leaves sent again (the rest after one read here). */
  resubmit(jobs: Array<{ job: LeafJob, child: Wanted }>): Batch
  /** Reads a leaf a worker stopped at through the reader, decoded. */
  readStuck(child: Wanted, block: number): Promise<FileNode>
  /** Batches in flight at most (sent and not yet consumed). */
  readonly window: number
  readonly signal: AbortSignal
  /** Cancels the reads in flight (the consumer stopped or is done). */
  close(): void
}

/**
 * The walk of the file's bytes in [offset, offset + length): its nodes read ahead (at most
 * `readAhead` a level), its leaves in batches for the workers (with `fd` they write theirs
 * into it, otherwise they hand them back). It does not wait for the batches it sends: the
 * consumer does, with one window of batches in flight for the whole tree, so the next inner
 * node's leaves are on their way while the last ones of the node before are still being read.
 */
function planner (root: FileNode, walk: Walk, options: ContentOptions, fd?: number): Plan {
  const { reader, readAhead, workers } = walk
  const start = Math.min(options.offset ?? 0, root.size)
  const end = options.length == null ? root.size : Math.min(root.size, start + options.length)
  // reads still in flight are cancelled when the consumer stops early
  const controller = new AbortController()
  const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
  // every read in flight listens to it
  setMaxListeners(Infinity, signal)
  const batchBytes = fd != null ? WRITE_BATCH_BYTES : READ_BATCH_BYTES

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

  function resubmit (jobs: Array<{ job: LeafJob, child: Wanted }>): Batch {
    const w = workers as LeafWorkers
    const leaves = jobs.map(j => j.job)
    const p = fd != null ? w.write(fd, leaves) : w.read(leaves)
    awaitedLater(p) // awaited by the consumer
    return { jobs, p }
  }

  async function * node (n: FileNode, nodeStart: number): AsyncGenerator<Planned> {
    let pos = nodeStart
    if (n.data != null) {
      const from = Math.max(start, pos)
      const to = Math.min(end, pos + n.data.byteLength)
      if (to > from) yield { piece: { pos: from - start, bytes: n.data.subarray(from - pos, to - pos) } }
      pos += n.data.byteLength
    }
    const wanted: Wanted[] = []
    for (const child of n.children) {
      if (child.size > 0 && pos < end && pos + child.size > start) wanted.push({ cid: child.cid, offset: pos, size: child.size, dagSize: child.dagSize })
      pos += child.size
    }
    const jobs = wanted.map(leafJob)
    // the children read here (not leaves for the workers), in order, `readAhead` at most in flight
    const reads: Array<Promise<Uint8Array>> = []
    let readNext = 0
    const readAheadFrom = (i: number): void => {
      readNext = Math.max(readNext, i)
      while (reads.length < readAhead && readNext < wanted.length) {
        const at = readNext++
        if (jobs[at] != null) continue
        const child = wanted[at]
        const leafLike = child.dagSize != null && child.dagSize >= child.size && child.dagSize - child.size <= LEAF_OVERHEAD
        const p = reader.get(child.cid, { signal, expectedSize: leafLike ? child.dagSize : undefined })
        awaitedLater(p) // awaited in order below
        reads.push(p)
      }
    }
    // reads not consumed (an error or an early stop) are cancelled by close(); nothing waits for them
    let i = 0
    while (i < wanted.length) {
      signal.throwIfAborted()
      readAheadFrom(i)
      if (jobs[i] == null) {
        const read = reads.shift() as Promise<Uint8Array>
        const child = wanted[i++]
        yield * node(decodeFileNode(child.cid, await read), child.offset)
        continue
      }
      const batch: Array<{ job: LeafJob, child: Wanted }> = []
      let bytes = 0
      while (i < wanted.length && jobs[i] != null && bytes < batchBytes && batch.length < MAX_BATCH_LEAVES) {
        const job = jobs[i] as LeafJob
        batch.push({ job, child: wanted[i++] })
        bytes += job.block
      }
      yield { batch: resubmit(batch) }
    }
  }

  return {
    root: () => node(root, 0),
    node,
    resubmit,
    async readStuck (child, block) {
      return decodeFileNode(child.cid, await reader.get(child.cid, { signal, expectedSize: block }))
    },
    window: fd != null ? WRITE_BATCHES_AHEAD : READ_BATCHES_AHEAD,
    signal,
    close () { controller.abort() }
  }
}

/** The throw of a batch that failed to write, else how many leaves it did and the file bytes they were. */
function doneOf (jobs: Batch['jobs'], r: LeafResult): number {
  if (r.error != null) {
    const err: NodeJS.ErrnoException = new Error(r.message ?? r.error)
    err.code = r.error
    throw err
  }
  let written = 0
  for (let i = 0; i < r.done; i++) written += jobs[i].job.take
  return written
}

/**
 * The pieces of `planned` in file order (`content`): at most `plan.window` batches in flight
 * over the whole walk, each consumed when it is the oldest; the leaf a batch stopped at is
 * read here and the rest sent again.
 */
async function * inOrder (plan: Plan, planned: AsyncGenerator<Planned>): AsyncGenerator<Piece> {
  const ahead: Planned[] = []
  let batches = 0
  let done = false
  try {
    for (;;) {
      plan.signal.throwIfAborted()
      // pull (and so send) batches until the window is full, unless bytes of this thread come first
      while (!done && batches < plan.window && (ahead.length === 0 || ahead[0].batch != null)) {
        const next = await planned.next()
        if (next.done === true) done = true
        else {
          ahead.push(next.value)
          if (next.value.batch != null) batches++
        }
      }
      const head = ahead.shift()
      if (head == null) return
      if (head.piece != null) {
        yield head.piece
        continue
      }
      batches--
      yield * finished(plan, head.batch.jobs, await head.batch.p)
    }
  } finally {
    await planned.return(undefined)
    // no batch may still be running for a consumer that is gone
    await Promise.allSettled(ahead.flatMap(a => a.batch != null ? [a.batch.p] : []))
  }
}

async function * finished (plan: Plan, jobs: Batch['jobs'], r: LeafResult): AsyncGenerator<Piece> {
  doneOf(jobs, r)
  if (r.out != null && r.slices != null) {
    for (let i = 0; i < r.done; i++) {
      const [s, e] = [r.slices[2 * i], r.slices[2 * i + 1]]
      if (e > s) yield { pos: jobs[i].job.pos, bytes: new Uint8Array(r.out, s, e - s) }
    }
  }
  if (r.done >= jobs.length) return
  const stuck = jobs[r.done]
  log('leaf %c read on the main thread: %s', stuck.child.cid, r.why)
  yield * inOrder(plan, plan.node(await plan.readStuck(stuck.child, stuck.job.block), stuck.child.offset))
  const rest = jobs.slice(r.done + 1)
  if (rest.length === 0) return
  plan.signal.throwIfAborted()
  const again = plan.resubmit(rest)
  yield * finished(plan, again.jobs, await again.p)
}

/**
 * Writes `planned` into `fd` (`writeTo`): the workers write their leaves at their offsets, so
 * the batches may finish in any order; the next one is sent as soon as any of the `plan.window`
 * in flight is done (no wait for the oldest). Bytes read here are written here. `progress` is
 * called with the bytes of each piece once written. Returns once nothing is in flight.
 */
async function inAnyOrder (plan: Plan, planned: AsyncGenerator<Planned>, fd: number, progress: (bytes: number) => void): Promise<void> {
  const inFlight = new Set<Promise<void>>()
  const settle = async (jobs: Batch['jobs'], p: Promise<LeafResult>): Promise<void> => {
    const r = await p
    progress(doneOf(jobs, r))
    if (r.done >= jobs.length) return
    const stuck = jobs[r.done]
    log('leaf %c read on the main thread: %s', stuck.child.cid, r.why)
    await inAnyOrder(plan, plan.node(await plan.readStuck(stuck.child, stuck.job.block), stuck.child.offset), fd, progress)
    const rest = jobs.slice(r.done + 1)
    if (rest.length === 0) return
    plan.signal.throwIfAborted()
    const again = plan.resubmit(rest)
    await settle(again.jobs, again.p)
  }
  let failed = false
  try {
    for await (const next of planned) {
      if (next.piece != null) {
        await writeAt(fd, next.piece.bytes, next.piece.pos)
        progress(next.piece.bytes.byteLength)
        continue
      }
      const t = settle(next.batch.jobs, next.batch.p)
      inFlight.add(t)
      t.then(() => inFlight.delete(t), () => { failed = true })
      awaitedLater(t) // awaited below (race, then all)
      while (inFlight.size >= plan.window && !failed) await Promise.race(inFlight)
      if (failed) await Promise.all(inFlight)
    }
    await Promise.all(inFlight)
  } finally {
    // no batch may still write into the caller's file once this returns
    await Promise.allSettled(inFlight)
  }
}
