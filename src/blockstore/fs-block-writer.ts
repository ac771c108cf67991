/**
 * Writes whole blocks into a blockstore-fs directory (same layout and file names as
 * blockstore-fs, so `FsBlockstore.get/has/delete` and our scans see them), with less work
 * per block than `FsBlockstore.put`:
 *
 * - shard directories already created are remembered (no `mkdir` per block; if one was
 *   removed behind our back the write recreates it and retries once);
 * - one temp file per write (`.<file>.<unique>.tmp`, removed by the rescan after a crash)
 *   then `rename` over the final name: a reader never sees a partial block, and renaming over
 *   an identical block that already exists is harmless;
 * - no existence checks: the caller decides whether to write (QuotaBlockstore checks once,
 *   under its per-block lock);
 * - callback `fs` calls (no FileHandle objects), no fsync (blockstore-fs does not fsync either).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { ShardingStrategy } from 'blockstore-fs/sharding'
import type { CID } from 'multiformats/cid'

export interface FsBlockWriterInit {
  /** The blockstore-fs directory. */
  directory: string
  /** The blockstore-fs sharding strategy of that directory. */
  sharding: ShardingStrategy
}

export interface FsBlockWriter {
  /** Path of the file holding `cid`. */
  pathOf(cid: CID): string
  /** Whether the block's file exists; rejects when that cannot be told (e.g. EMFILE, EACCES). */
  exists(cid: CID): Promise<boolean>
  /** Write the block atomically (temp file + rename). Throws the fs error; leaves no temp file behind. */
  write(cid: CID, bytes: Uint8Array, signal?: AbortSignal): Promise<void>
  /** Forget the shard directories known to exist (e.g. after the store was wiped). */
  reset(): void
}

let tempCounter = 0

function call<T> (fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((err, value) => { if (err != null) reject(err); else resolve(value) })
  })
}

async function writeAll (fd: number, bytes: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < bytes.byteLength) {
    const n = await call<number>(cb => { fs.write(fd, bytes, offset, bytes.byteLength - offset, null, cb) })
    offset += n
  }
}

async function writeTemp (file: string, bytes: Uint8Array): Promise<void> {
  const fd = await call<number>(cb => { fs.open(file, 'w', 0o666, cb) })
  try {
    await writeAll(fd, bytes)
  } finally {
    await call<void>(cb => { fs.close(fd, (err) => { cb(err, undefined) }) })
  }
}

class DefaultFsBlockWriter implements FsBlockWriter {
  private readonly directory: string
  private readonly sharding: ShardingStrategy
  private readonly dirs = new Set<string>()

  constructor (init: FsBlockWriterInit) {
    this.directory = init.directory
    this.sharding = init.sharding
  }

  pathOf (cid: CID): string {
    const { dir, file } = this.sharding.encode(cid)
    return path.join(this.directory, dir, file)
  }

  async exists (cid: CID): Promise<boolean> {
    const file = this.pathOf(cid)
    return new Promise((resolve, reject) => {
      fs.access(file, (err) => {
        if (err == null) resolve(true)
        else if (err.code === 'ENOENT' || err.code === 'ENOTDIR') resolve(false)
        else reject(err)
      })
    })
  }

  reset (): void {
    this.dirs.clear()
  }

  async write (cid: CID, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    const { dir, file } = this.sharding.encode(cid)
    const shard = path.join(this.directory, dir)
    const target = path.join(shard, file)
    const temp = path.join(shard, `.${file}.${process.pid}-${++tempCounter}.tmp`)
    if (!this.dirs.has(shard)) {
      await call<string | undefined>(cb => { fs.mkdir(shard, { recursive: true }, cb) })
      this.dirs.add(shard)
    }
    try {
      try {
        await writeTemp(temp, bytes)
      } catch (err: any) {
        if (err.code !== 'ENOENT') throw err
        // the shard directory went away (store wiped): create it again and retry once
        this.dirs.delete(shard)
        await call<string | undefined>(cb => { fs.mkdir(shard, { recursive: true }, cb) })
        this.dirs.add(shard)
        await writeTemp(temp, bytes)
      }
      signal?.throwIfAborted()
      await call<void>(cb => { fs.rename(temp, target, (err) => { cb(err, undefined) }) })
    } catch (err) {
      await call<void>(cb => { fs.rm(temp, { force: true }, (e) => { cb(e, undefined) }) }).catch(() => {})
      throw err
    }
  }
}

export function createFsBlockWriter (init: FsBlockWriterInit): FsBlockWriter {
  return new DefaultFsBlockWriter(init)
}
