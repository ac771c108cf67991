/**
 * A UnixFS DAG as a tar stream (ustar, through `tar-stream`): a file is one
 * entry, a directory its whole tree under `<name>/`, symlinks as symlinks.
 * Entries are written one at a time as their blocks arrive, with the
 * stream's back-pressure: memory stays flat whatever the size of the tree.
 */
import { once } from 'node:events'
import { Readable } from 'node:stream'
import type { Writable } from 'node:stream'
import { decode as decodeDagPb } from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { pack as tarPack } from 'tar-stream'
import type { CID } from 'multiformats/cid'
import { logger } from '@libp2p/logger'
import { TimeoutError } from '../../errors.js'
import type { WorkspaceNode } from '../../node/types.js'

const log = logger('otherthing-storage:http:tar')

const DAG_PB = 0x70
const RAW = 0x55

export type UnixfsKind = 'file' | 'directory' | 'symlink' | 'raw'

export interface UnixfsNodeInfo {
  kind: UnixfsKind
  /** The symlink's target (symlinks only). */
  target?: string
}

/** What a CID is, from its own block: a raw leaf, or the UnixFS type of a dag-pb node. */
export async function unixfsNodeInfo (node: Pick<WorkspaceNode, 'blockGet'>, cid: CID, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<UnixfsNodeInfo> {
  if (cid.code === RAW) return { kind: 'file' }
  if (cid.code !== DAG_PB) return { kind: 'raw' }
  // the deadline as a signal too: the timeout option alone does not bound every fetch
  const deadline = options.timeout != null ? AbortSignal.timeout(options.timeout) : undefined
  const signal = options.signal != null && deadline != null ? AbortSignal.any([options.signal, deadline]) : (options.signal ?? deadline)
  const block = await node.blockGet(cid, { timeout: options.timeout, signal }).catch((err: unknown) => {
    if (deadline?.aborted === true && options.signal?.aborted !== true) throw new TimeoutError(`${cid.toString()} not found within ${String(options.timeout)} ms`, { cause: err })
    throw err
  })
  const pb = decodeDagPb(block)
  if (pb.Data == null) return { kind: 'raw' }
  const fs = UnixFS.unmarshal(pb.Data)
  if (fs.type === 'directory' || fs.type === 'hamt-sharded-directory') return { kind: 'directory' }
  if (fs.type === 'symlink') return { kind: 'symlink', target: new TextDecoder().decode(fs.data ?? new Uint8Array()) }
  if (fs.type === 'file' || fs.type === 'raw') return { kind: 'file' }
  return { kind: 'raw' }
}

export interface TarOptions {
  signal?: AbortSignal
  /** Timeout of each block fetch from peers, in ms. */
  timeout?: number
}

/** Writes `chunk` to a tar entry, waiting when the pack's buffer is full. */
async function write (entry: Writable, chunk: Uint8Array): Promise<void> {
  if (!entry.write(chunk)) await once(entry, 'drain')
}

/**
 * Streams the DAG at `cid` as a tar archive whose top entry is `name`.
 * A failure while streaming destroys the stream (the HTTP response is cut,
 * so a client never takes a truncated archive for a whole one).
 */
export function tarStream (node: Pick<WorkspaceNode, 'ls' | 'cat' | 'stat' | 'blockGet'>, cid: CID, name: string, options: TarOptions = {}): Readable {
  const pack = tarPack()
  const mtime = new Date()

  async function addFile (path: string, fileCid: CID, size: number): Promise<void> {
    const entry = pack.entry({ name: path, size, mode: 0o644, mtime, type: 'file' }, (err) => { if (err != null) log.error('tar entry %s failed: %e', path, err) }) as unknown as Writable
    const done = once(entry, 'finish').then(() => {})
    for await (const chunk of node.cat(fileCid, options)) await write(entry, chunk)
    entry.end()
    await done
  }

  async function addNode (path: string, nodeCid: CID, size: number | undefined, kind?: UnixfsKind): Promise<void> {
    options.signal?.throwIfAborted()
    // a file listed by ls needs no extra block read; a symlink's target is in its block
    const info: UnixfsNodeInfo = kind === 'file' || kind === 'directory' ? { kind } : await unixfsNodeInfo(node, nodeCid, options)
    if (info.kind === 'symlink') {
      pack.entry({ name: path, type: 'symlink', linkname: info.target ?? '', mode: 0o777, mtime })
      return
    }
    if (info.kind !== 'directory') {
      const fileSize = size ?? await sizeOf(nodeCid)
      await addFile(path, nodeCid, fileSize)
      return
    }
    pack.entry({ name: path, type: 'directory', mode: 0o755, mtime })
    for await (const child of node.ls(nodeCid, options)) {
      await addNode(`${path}/${child.name}`, child.cid, child.type === 'directory' ? undefined : child.size, child.type === 'raw' ? undefined : child.type)
    }
  }

  async function sizeOf (fileCid: CID): Promise<number> {
    return (await node.stat(fileCid, options)).size
  }

  void (async () => {
    try {
      await addNode(name, cid, undefined)
      pack.finalize()
    } catch (err) {
      log.error('tar of %c failed: %e', cid, err)
      pack.destroy(err as Error)
    }
  })()
  return Readable.from(pack as unknown as AsyncIterable<Buffer>, { objectMode: false })
}
