/**
 * The directories of a folder import, built as entries arrive, with the CIDs
 * ipfs-unixfs-importer 17 gives (IPIP-499 `unixfs-v0-2015` / `unixfs-v1-2025`).
 *
 * Memory: a directory holds its links compactly (names, kinds and Tsizes in
 * plain arrays, the CIDs' bytes in one growing buffer per directory), about
 * 150 bytes a link instead of the importer's ~1 KB of objects; nothing of a
 * file's content. A directory's links are dropped once it is written.
 *
 * Sharding follows the importer step by step: after each entry, every
 * directory from the entry's parent up to the root whose size estimate
 * passes the threshold becomes a HAMT for good. The estimate counts the
 * links that already have a CID (files, symlinks, folders given empty), not
 * the sub-folders being built: "links-bytes" sums name bytes + CID bytes
 * (Kubo's rule, `unixfs-v0-2015`), "block-bytes" the exact dag-pb bytes of
 * the node (`unixfs-v1-2025`).
 *
 * One difference, on purpose: a folder entry given after entries inside it
 * keeps those entries (it only sets the folder's mode and mtime); the
 * importer would replace the folder by an empty one.
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { buildShard } from './hamt.js'
import type { PutNode, ShardLinks } from './hamt.js'
import type { Mtime } from 'ipfs-unixfs'

export type ShardSplitStrategy = 'links-bytes' | 'block-bytes'

export interface DirTreeOptions {
  strategy: ShardSplitStrategy
  /** A directory whose estimate passes this becomes a HAMT. @default 262144 (256 KiB) */
  thresholdBytes?: number
}

/** A link that already has its CID: a file, a symlink, or a folder given empty. */
export interface LeafLink {
  cid: CID
  /** Bytes of the linked DAG (the link's Tsize). */
  tsize: number
  /** File bytes, added to every folder above. */
  contentBytes: number
}

export interface DirMeta { mode?: number, mtime?: Mtime }

/** A directory written by `flush`. */
export interface FlushedDir {
  path: string
  cid: CID
  tsize: number
  /** Bytes of all files under it. */
  contentBytes: number
  /** A folder given empty (its block was written when it was added). */
  placeholder: boolean
}

const FILE = 0
const EMPTY = 1
const SUBDIR = 2
const FLUSHED = 3

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8')

function varintLength (x: number): number {
  let n = 1
  while (x >= 128) {
    x = Math.floor(x / 128)
    n++
  }
  return n
}

/** Bytes one link adds to an encoded dag-pb node (Hash, Name, Tsize, and the link's own header). */
function linkBytes (nameBytes: number, cidBytes: number, tsize: number): number {
  const inner = 1 + varintLength(cidBytes) + cidBytes + 1 + varintLength(nameBytes) + nameBytes + 1 + varintLength(tsize)
  return 1 + varintLength(inner) + inner
}

/** Bytes of the Data field of a directory node with this mode and mtime. */
function dataBytes (meta: DirMeta): number {
  const n = new UnixFS({ type: 'directory', ...meta }).marshal().byteLength
  return 1 + varintLength(n) + n
}

class Dir {
  readonly path: string
  meta: DirMeta
  names: string[] = []
  index = new Map<string, number>()
  kinds: number[] = []
  tsizes: number[] = []
  /** start of each link's CID in `cidBytes` (and its length) */
  cidStart: number[] = []
  cidLength: number[] = []
  cidBytes = new Uint8Array(256)
  cidEnd = 0
  subdirs = new Map<number, Dir>()
  /** mode/mtime of the links that are folders given empty, when they have any (rare) */
  emptyMeta?: Map<string, DirMeta>
  contentBytes = 0
  estimate?: number
  sharded = false

  constructor (path: string, meta: DirMeta = {}) {
    this.path = path
    this.meta = meta
  }

  childPath (name: string): string {
    return this.path === '' ? name : `${this.path}/${name}`
  }

  contribution (i: number | undefined, strategy: ShardSplitStrategy): number {
    if (i == null) return 0
    const kind = this.kinds[i]
    if (kind === SUBDIR || kind === FLUSHED) return 0
    const nameBytes = utf8Length(this.names[i])
    return strategy === 'links-bytes'
      ? nameBytes + this.cidLength[i]
      : linkBytes(nameBytes, this.cidLength[i], this.tsizes[i])
  }

  private storeCid (i: number, cid: CID): void {
    const bytes = cid.bytes
    if (this.cidEnd + bytes.byteLength > this.cidBytes.byteLength) {
      const grown = new Uint8Array(Math.max(this.cidBytes.byteLength * 2, this.cidEnd + bytes.byteLength))
      grown.set(this.cidBytes.subarray(0, this.cidEnd))
      this.cidBytes = grown
    }
    this.cidBytes.set(bytes, this.cidEnd)
    this.cidStart[i] = this.cidEnd
    this.cidLength[i] = bytes.byteLength
    this.cidEnd += bytes.byteLength
  }

  cidAt (i: number): CID {
    const start = this.cidStart[i]
    return CID.decode(this.cidBytes.subarray(start, start + this.cidLength[i]))
  }

  /** Sets link `name`; keeps the estimate as the importer does (old link out, new one in). */
  set (name: string, kind: number, strategy: ShardSplitStrategy, link?: { cid: CID, tsize: number }): number {
    let i = this.index.get(name)
    const before = this.estimate != null ? this.contribution(i, strategy) : 0
    if (i == null) {
      i = this.names.length
      this.names.push(name)
      this.index.set(name, i)
      this.kinds.push(kind)
      this.tsizes.push(0)
      this.cidStart.push(0)
      this.cidLength.push(0)
    } else {
      this.kinds[i] = kind
      this.subdirs.delete(i)
    }
    if (link != null) {
      this.storeCid(i, link.cid)
      this.tsizes[i] = link.tsize
    }
    if (this.estimate != null) {
      this.estimate += this.contribution(i, strategy) - before
      if (this.estimate < 0) this.estimate = undefined
    }
    return i
  }

  estimateBytes (strategy: ShardSplitStrategy): number {
    if (this.estimate == null) {
      let sum = strategy === 'block-bytes' ? dataBytes(this.meta) : 0
      for (let i = 0; i < this.names.length; i++) sum += this.contribution(i, strategy)
      this.estimate = sum
    }
    return this.estimate
  }

  /** Drops the links once the directory is written. */
  release (): void {
    this.names = []
    this.index = new Map()
    this.kinds = []
    this.tsizes = []
    this.cidStart = []
    this.cidLength = []
    this.cidBytes = new Uint8Array(0)
    this.subdirs = new Map()
    this.emptyMeta = undefined
  }
}

export class DirTree {
  private readonly root = new Dir('')
  private readonly strategy: ShardSplitStrategy
  private readonly threshold: number

  constructor (options: DirTreeOptions) {
    this.strategy = options.strategy
    this.threshold = options.thresholdBytes ?? 262_144
  }

  /** The folder at `names` (created, or turned from a leaf into a folder, as needed). */
  private folder (names: string[]): Dir[] {
    const chain = [this.root]
    let dir = this.root
    for (const name of names) {
      const i = dir.index.get(name)
      let sub = i != null ? dir.subdirs.get(i) : undefined
      if (sub == null) {
        // a folder given empty becomes a folder with its mode and mtime
        const meta = i != null && dir.kinds[i] === EMPTY ? dir.emptyMeta?.get(name) : undefined
        sub = new Dir(dir.childPath(name), meta ?? {})
        const at = dir.set(name, SUBDIR, this.strategy)
        dir.subdirs.set(at, sub)
        dir.emptyMeta?.delete(name)
      }
      chain.push(sub)
      dir = sub
    }
    return chain
  }

  /** After an entry: the importer's flat-to-shard check, from the entry's folder up to the root. */
  private check (chain: Dir[]): void {
    for (let k = chain.length - 1; k >= 0; k--) {
      const dir = chain[k]
      if (!dir.sharded && dir.estimateBytes(this.strategy) > this.threshold) dir.sharded = true
    }
  }

  /** Adds a file or symlink at `path` ('/'-separated, normalised). */
  addLeaf (path: string, link: LeafLink): void {
    const names = path.split('/')
    const name = names.pop() as string
    const chain = this.folder(names)
    const parent = chain[chain.length - 1]
    parent.set(name, FILE, this.strategy, link)
    for (const dir of chain) dir.contentBytes += link.contentBytes
    this.check(chain)
  }

  /** Adds a folder given as an entry: empty (its block is `link`) until something is added inside. */
  addFolder (path: string, link: { cid: CID, tsize: number }, meta: DirMeta): void {
    const names = path.split('/')
    const name = names.pop() as string
    const chain = this.folder(names)
    const parent = chain[chain.length - 1]
    const i = parent.index.get(name)
    const existing = i != null ? parent.subdirs.get(i) : undefined
    if (existing != null) {
      existing.meta = meta
      existing.estimate = undefined
      return
    }
    parent.set(name, EMPTY, this.strategy, link)
    if (meta.mode != null || meta.mtime != null) (parent.emptyMeta ??= new Map()).set(name, meta)
    else parent.emptyMeta?.delete(name)
    this.check(chain)
  }

  /**
   * Writes every folder, deepest first, and yields each (a folder given
   * empty, before its parent). `wrap`: the folder above everything is
   * written too (path ''); otherwise each top-level folder is a root.
   */
  async * flush (put: PutNode, wrap: boolean): AsyncGenerator<FlushedDir> {
    if (wrap) {
      yield * this.flushDir(this.root, put)
      return
    }
    const root = this.root
    for (let i = 0; i < root.names.length; i++) {
      const sub = root.subdirs.get(i)
      if (sub != null) yield * this.flushDir(sub, put)
      else if (root.kinds[i] === EMPTY) yield { path: root.names[i], cid: root.cidAt(i), tsize: root.tsizes[i], contentBytes: 0, placeholder: true }
    }
  }

  private async * flushDir (dir: Dir, put: PutNode): AsyncGenerator<FlushedDir> {
    for (let i = 0; i < dir.names.length; i++) {
      const sub = dir.subdirs.get(i)
      if (sub == null) continue
      let written: FlushedDir | undefined
      for await (const entry of this.flushDir(sub, put)) {
        written = entry
        yield entry
      }
      if (written == null) throw new Error(`folder ${sub.path} was not written`)
      dir.set(dir.names[i], FLUSHED, this.strategy, written)
      dir.subdirs.delete(i)
    }
    for (let i = 0; i < dir.names.length; i++) {
      if (dir.kinds[i] === EMPTY) yield { path: dir.childPath(dir.names[i]), cid: dir.cidAt(i), tsize: dir.tsizes[i], contentBytes: 0, placeholder: true }
    }
    let cid: CID
    let tsize: number
    if (dir.sharded) {
      // read from the directory's compact arrays (no object per link)
      const links: ShardLinks = { length: dir.names.length, name: (i) => dir.names[i], cid: (i) => dir.cidAt(i), tsize: (i) => dir.tsizes[i] }
      ;({ cid, tsize } = await buildShard(links, put, dir.meta))
    } else {
      const data = new UnixFS({ type: 'directory', ...dir.meta })
      const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: dir.names.map((name, i) => ({ Name: name, Tsize: dir.tsizes[i], Hash: dir.cidAt(i) })) }))
      cid = await put(bytes)
      tsize = dir.tsizes.reduce((n, t) => n + t, bytes.byteLength)
    }
    dir.release()
    yield { path: dir.path, cid, tsize, contentBytes: dir.contentBytes, placeholder: false }
  }
}
