/**
 * Downloading a UnixFS directory to disk: the tree is written into a hidden
 * temp folder beside the destination and renamed into place once complete,
 * so nothing half-written is ever left under the destination's name (the
 * temp folder is removed on failure). The destination is checked before
 * anything is fetched. Names from the DAG are checked (no '/', '.', '..' or
 * NUL) so a hostile DAG cannot write outside the tree; symlinks are written
 * as symlinks, never followed.
 */
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, rename, rm, stat, symlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { exporter } from 'ipfs-unixfs-exporter'
import { logger } from '@libp2p/logger'
import { DestinationError, InvalidArgumentError } from '../../errors.js'
import { writeToFile } from '../export/index.js'
import type { ContentComponents } from '../blocks/components.js'
import type { ProgressOptions } from '../options.js'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing-storage:get-directory')

export interface GetDirectoryOptions extends ProgressOptions {
  /** Files written at once. @default 16 */
  concurrency?: number
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

/** Writes the directory `cid` to `target` (which must not exist). Returns `target`. */
export async function getDirectory (components: Pick<ContentComponents, 'blockstore'>, cid: CID, target: string, options: GetDirectoryOptions = {}): Promise<string> {
  options.signal?.throwIfAborted()
  await checkDestination(target)
  const temp = join(dirname(resolve(target)), `.${basename(target)}.${randomBytes(6).toString('hex')}.part`)
  const concurrency = Math.max(1, options.concurrency ?? 16)
  let bytes = 0
  const inFlight = new Set<Promise<void>>()
  let failure: { err: unknown } | undefined
  const get = async (c: CID): Promise<UnixFSEntry> => exporter(c, components.blockstore, { signal: options.signal })

  const writeFile = async (entry: UnixFSEntry, path: string): Promise<void> => {
    if (entry.type === 'directory' || entry.type === 'object') throw new InvalidArgumentError(`${entry.cid} is neither a file nor a directory`)
    await writeToFile(entry.content({ signal: options.signal }), path, {
      signal: options.signal,
      onProgress: (n) => { options.onProgress?.({ bytes: bytes + n }) }
    }).then(n => { bytes += n })
  }

  const spawn = async (work: Promise<void>): Promise<void> => {
    const p = work.catch(err => { failure ??= { err } }).finally(() => { inFlight.delete(p) })
    inFlight.add(p)
    if (inFlight.size >= concurrency) await Promise.race(inFlight)
  }

  try {
    await mkdir(temp)
    const stack: Array<{ cid: CID, path: string }> = [{ cid, path: temp }]
    while (stack.length > 0 && failure == null) {
      options.signal?.throwIfAborted()
      const dir = stack.pop() as { cid: CID, path: string }
      const node = await get(dir.cid)
      if (node.type !== 'directory') throw new InvalidArgumentError(`${dir.cid} is not a directory`)
      for await (const link of node.entries({ signal: options.signal })) {
        if (failure != null) break
        const path = join(dir.path, safeName(link.name))
        const child = await get(link.cid)
        if (child.type === 'directory') {
          await mkdir(path)
          stack.push({ cid: link.cid, path })
        } else if (child.type === 'file' && child.unixfs.type === 'symlink') {
          await symlink(new TextDecoder().decode(child.unixfs.data ?? new Uint8Array(0)), path)
        } else {
          await spawn(writeFile(child, path))
        }
      }
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
