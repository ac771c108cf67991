/**
 * The directories of a folder import, built as entries arrive, with the CIDs
 * ipfs-unixfs-importer 17 gives (IPIP-499 `unixfs-v0-2015` / `unixfs-v1-2025`).
 *
 * Memory: a directory holds its links packed in typed arrays (link-table.ts:
 * names as UTF-8 with their own index, CIDs' bytes, kinds, Tsizes), about 60
 * bytes a link off the V8 heap instead of the importer's ~1 KB of objects;
 * nothing of a file's content. A directory's links are dropped once it is
 * written.
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
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'
import { buildShard } from './hamt.js'
import { LinkTable } from './link-table.js'
import type { NodeSink, ShardLinks } from './hamt.js'
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

/** Bytes one link adds to an encoded dag-pb node (Hash, Name, Tsize, and the link's own header). */
function linkBytes (nameBytes: number, cidBytes: number, tsize: number): number {
  const inner = 1 + varint.encodingLength(cidBytes) + cidBytes + 1 + varint.encodingLength(nameBytes) + nameBytes + 1 + varint.encodingLength(tsize)
  return 1 + varint.encodingLength(inner) + inner
}

/** Bytes of the Data field of a directory node with this mode and mtime. */
function dataBytes (meta: DirMeta): number {
  const n = new UnixFS({ type: 'directory', ...meta }).marshal().byteLength
  return 1 + varint.encodingLength(n) + n
}

class Dir {
  readonly path: string
  meta: DirMeta
  /** the links, packed (link-table.ts) */
  links = new LinkTable()
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

  /** The link named `name`, or undefined. */
  indexOf (name: string): number | undefined {
    const i = this.links.find(name)
    return i < 0 ? undefined : i
  }

  contribution (i: number | undefined, strategy: ShardSplitStrategy): number {
    if (i == null) return 0
    const kind = this.links.kind(i)
    if (kind === SUBDIR || kind === FLUSHED) return 0
    const nameBytes = this.links.nameBytes(i)
    return strategy === 'links-bytes'
      ? nameBytes + this.links.cidBytes(i)
      : linkBytes(nameBytes, this.links.cidBytes(i), this.links.tsize(i))
  }

  cidAt (i: number): CID {
    return this.links.cid(i)
  }

  /** Sets link `name`; keeps the estimate as the importer does (old link out, new one in). */
  set (name: string, kind: number, strategy: ShardSplitStrategy, link?: { cid: CID, tsize: number }): number {
    let i = this.indexOf(name)
    const before = this.estimate != null ? this.contribution(i, strategy) : 0
    if (i == null) {
      i = this.links.append(name, kind)
    } else {
      this.links.setKind(i, kind)
      this.subdirs.delete(i)
    }
    if (link != null) this.links.setLink(i, link.cid, link.tsize)
    if (this.estimate != null) {
      this.estimate += this.contribution(i, strategy) - before
      if (this.estimate < 0) this.estimate = undefined
    }
    return i
  }

  estimateBytes (strategy: ShardSplitStrategy): number {
    if (this.estimate == null) {
      let sum = strategy === 'block-bytes' ? dataBytes(this.meta) : 0
      for (let i = 0; i < this.links.length; i++) sum += this.contribution(i, strategy)
      this.estimate = sum
    }
    return this.estimate
  }

  /** Drops the links once the directory is written (their memory freed at once). */
  release (): void {
    this.links.release()
    this.links = new LinkTable()
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
      const i = dir.indexOf(name)
      let sub = i != null ? dir.subdirs.get(i) : undefined
      if (sub == null) {
        // a folder given empty becomes a folder with its mode and mtime
        const meta = i != null && dir.links.kind(i) === EMPTY ? dir.emptyMeta?.get(name) : undefined
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
    const i = parent.indexOf(name)
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
  async * flush (sink: NodeSink, wrap: boolean): AsyncGenerator<FlushedDir> {
    if (wrap) {
      yield * this.flushDir(this.root, sink)
      return
    }
    const root = this.root
    for (let i = 0; i < root.links.length; i++) {
      const sub = root.subdirs.get(i)
      if (sub != null) yield * this.flushDir(sub, sink)
      else if (root.links.kind(i) === EMPTY) yield { path: root.links.name(i), cid: root.cidAt(i), tsize: root.links.tsize(i), contentBytes: 0, placeholder: true }
    }
  }

  private async * flushDir (dir: Dir, sink: NodeSink): AsyncGenerator<FlushedDir> {
    for (let i = 0; i < dir.links.length; i++) {
      const sub = dir.subdirs.get(i)
      if (sub == null) continue
      let written: FlushedDir | undefined
      for await (const entry of this.flushDir(sub, sink)) {
        written = entry
        yield entry
      }
      if (written == null) throw new Error(`folder ${sub.path} was not written`)
      dir.set(dir.links.name(i), FLUSHED, this.strategy, written)
      dir.subdirs.delete(i)
    }
    const { links } = dir
    for (let i = 0; i < links.length; i++) {
      if (links.kind(i) === EMPTY) yield { path: dir.childPath(links.name(i)), cid: dir.cidAt(i), tsize: links.tsize(i), contentBytes: 0, placeholder: true }
    }
    let cid: CID
    let tsize: number
    if (dir.sharded) {
      // read from the directory's compact arrays (no object per link)
      const shard: ShardLinks = { length: links.length, name: (i) => links.name(i), cid: (i) => links.cid(i), tsize: (i) => links.tsize(i) }
      ;({ cid, tsize } = await buildShard(shard, sink, dir.meta))
    } else {
      const data = new UnixFS({ type: 'directory', ...dir.meta })
      const pbLinks = Array.from({ length: links.length }, (_, i) => ({ Name: links.name(i), Tsize: links.tsize(i), Hash: links.cid(i) }))
      const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: pbLinks }))
      cid = sink.cid(bytes)
      await sink.write(cid, bytes)
      tsize = links.totalTsize() + bytes.byteLength
    }
    dir.release()
    yield { path: dir.path, cid, tsize, contentBytes: dir.contentBytes, placeholder: false }
  }
}
