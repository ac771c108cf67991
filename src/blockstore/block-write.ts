/**
 * The file calls of a block write (block-layout.ts): a temp file in the block's shard
 * directory, then renamed or hard-linked to the block's name. A reader never sees a partial
 * block under its final name; a crash leaves only `.<file>.<unique>.tmp` names, which the next
 * rescan removes. `link` fails with EEXIST when the block is there already: the one atomic
 * "create unless it exists" the fs offers for a whole file, so writers that hold no common lock
 * (a hash worker, see import/hash.ts, and the main thread) still count each block once.
 */
import fs from 'node:fs'
import { logger } from '@libp2p/logger'

const log = logger('otherthing:blockstore:layout')

export function call<T> (fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
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

async function mkdir (dir: string): Promise<void> {
  await call<string | undefined>(cb => { fs.mkdir(dir, { recursive: true }, cb) })
}

/**
 * Writes `bytes` to `temp` in `shard`, creating the shard directory when `dirs` does not know it
 * (and once more if it went away behind our back: the store was wiped). Leaves no temp file on error.
 */
export async function writeTempIn (dirs: Set<string>, shard: string, temp: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (!dirs.has(shard)) {
    await mkdir(shard)
    dirs.add(shard)
  }
  try {
    try {
      await writeTemp(temp, bytes)
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw err
      dirs.delete(shard)
      await mkdir(shard)
      dirs.add(shard)
      await writeTemp(temp, bytes)
    }
    signal?.throwIfAborted()
  } catch (err) {
    await removeTemp(temp)
    throw err
  }
}

/** Removes a temp file, logging (not throwing) a failure: the next rescan removes it. */
export async function removeTemp (temp: string): Promise<void> {
  await call<void>(cb => { fs.rm(temp, { force: true }, (e) => { cb(e, undefined) }) }).catch((rmErr) => {
    log.error('could not remove temp file %s (the next rescan does): %e', temp, rmErr)
  })
}

/** Renames a written temp file over the block's name (removing the temp when that fails). */
export async function renameTemp (temp: string, target: string): Promise<void> {
  try {
    await call<void>(cb => { fs.rename(temp, target, (err) => { cb(err, undefined) }) })
  } catch (err) {
    await removeTemp(temp)
    throw err
  }
}

/** `link` errors of a file system without hard links (FAT, exFAT, some network shares). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK', 'EXDEV'])

/** Whether `code` is a file system refusing hard links. */
export function isLinkUnsupported (code: string | undefined): boolean {
  return code != null && NO_LINKS.has(code)
}

/**
 * Links a written temp file to the block's name: true when this made the block, false when the
 * name existed. The temp is removed either way (on error too); the error is the fs's.
 */
export async function linkTemp (temp: string, target: string): Promise<boolean> {
  let created = true
  try {
    await call<void>(cb => { fs.link(temp, target, (err) => { cb(err, undefined) }) })
  } catch (err: any) {
    if (err.code !== 'EEXIST') {
      await removeTemp(temp)
      throw err
    }
    created = false
  }
  // the block is whole under its final name now: a temp left behind only costs the next rescan
  await call<void>(cb => { fs.unlink(temp, (err) => { cb(err, undefined) }) }).catch((err) => {
    log.error('could not remove temp file %s (the next rescan does): %e', temp, err)
  })
  return created
}
