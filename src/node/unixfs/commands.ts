/**
 * Wiring of the folder, CAR and block operations into the workspace node's
 * commands: the ContentComponents they take, made from the workspace's
 * components, and path support (`<cid>/a/b`) for cat, get, pin and stat in
 * front of the node's own commands.
 *
 * Writing operations run inside the blockstore's write sessions (`inSession`,
 * `inSessionIter`): gc keeps what they touch while they run. Their own
 * all-or-nothing (blocks/write-session.ts) stays as a second net.
 */
import { exporter } from 'ipfs-unixfs-exporter'
import { AbortedError, InvalidArgumentError } from '../../errors.js'
import { operationSignal, translateError } from '../cid.js'
import { getDirectory } from './get-directory.js'
import { parseCidPath, resolvePath } from './resolve.js'
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { inWriteSession } from '../commands/session.js'
import type { ContentComponents } from '../blocks/components.js'
import type { WorkspaceComponents } from '../components.js'
import type { AbortOptions, GetOptions } from '../options.js'
import type { CID } from 'multiformats/cid'

export function contentComponents (c: WorkspaceComponents): ContentComponents {
  const store = c.store
  return {
    blockstore: c.blockstore,
    local: {
      has: async (cid, options) => store.has(cid, options),
      put: async (cid, bytes, options) => store.putNew(cid, bytes, options),
      get: (cid, options) => store.get(cid, options),
      delete: async (cid, options) => { await store.delete(cid, options) },
      getAll: (options) => store.getAll(options),
      beginOperation: () => () => {},
      session: () => store.current()
    },
    pins: c.pins,
    getCodec: c.getCodec,
    getHasher: c.getHasher,
    afterWrite: () => { c.quota?.afterWrite() },
    cacheDir: c.settings.cacheDir
  }
}

/** The CID a CID or path names (a bare CID needs no block read). */
export async function resolveCid (c: WorkspaceComponents, cidOrPath: CID | string, options: AbortOptions & { timeout?: number } = {}): Promise<CID | string> {
  const parsed = parseCidPath(cidOrPath)
  if (parsed.segments.length === 0) return cidOrPath
  const op = operationSignal(options.signal, options.timeout)
  try {
    const { cid, remainder } = await resolvePath(contentComponents(c), cidOrPath, { signal: op.signal })
    if (remainder != null) throw new InvalidArgumentError(`${String(cidOrPath)}: "${remainder}" is inside a non-UnixFS node`)
    return cid
  } catch (err) {
    throw translateError(err, op, options.signal)
  } finally {
    op.clear()
  }
}

/** cat of a path: resolved first, then the node's own cat. */
export function catPath (c: WorkspaceComponents, cidOrPath: CID | string, options: AbortOptions & { timeout?: number }, cat: (cid: CID | string) => AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (parseCidPath(cidOrPath).segments.length === 0) return cat(cidOrPath)
  return (async function * () {
    yield * cat(await resolveCid(c, cidOrPath, options))
  })()
}

/** get of a path; a directory is written as a tree (temp folder + rename), a file by the node's own get. */
export async function getPath (c: WorkspaceComponents, cidOrPath: CID | string, outputPath: string | undefined, options: GetOptions, getFile: (cid: CID | string) => Promise<string>): Promise<string> {
  if (options.signal?.aborted === true) throw new AbortedError('get aborted', { cause: options.signal.reason })
  const target = await resolveCid(c, cidOrPath, options)
  const cid = parseCidPath(target).cid
  const op = operationSignal(options.signal, options.timeout)
  try {
    const isDir = cid.code === 0x70 && (await exporter(cid, c.blockstore, { signal: op.signal })).type === 'directory'
    if (!isDir) return await getFile(cid)
    if (outputPath == null) await mkdir(c.settings.cacheDir, { recursive: true })
    // read-only session: gc keeps the blocks the download reads (straight from their files or not)
    const session = c.store.beginWrite()
    try {
      const components = { ...contentComponents(c), layout: c.layout, verify: c.settings.hashOnRead, onRead: (b: CID) => { session.recordRead(b) } }
      return await session.run(async () => getDirectory(components, cid, outputPath ?? join(c.settings.cacheDir, cid.toString()), { ...options, signal: op.signal, onProgress: (p) => { op.touch(); options.onProgress?.(p) } }))
    } finally {
      session.commit()
    }
  } catch (err) {
    throw translateError(err, op, options.signal)
  } finally {
    op.clear()
  }
}

/** Runs an operation in one of the blockstore's write sessions (gc keeps what it touches; rolled back on failure). */
export async function inSession<T> (c: WorkspaceComponents, fn: () => Promise<T>): Promise<T> {
  return inWriteSession(c, async () => fn())
}

/** The same for a stream: every step runs inside the session; a failure or an early stop rolls it back. */
export function inSessionIter<T> (c: WorkspaceComponents, make: () => AsyncIterable<T>): AsyncIterable<T> {
  return (async function * () {
    const session = c.store.beginWrite()
    const it = make()[Symbol.asyncIterator]()
    let done = false
    try {
      while (true) {
        const r = await session.run(async () => it.next())
        if (r.done === true) break
        yield r.value
      }
      done = true
    } finally {
      if (done) {
        session.commit()
      } else {
        // stopped early or failed: the operation's own finally runs (unpin, rollback) inside the session
        await session.run(async () => { await it.return?.() }).catch((err: unknown) => { c.log.error('closing a stopped operation failed: %e', err) })
        await session.rollback().catch((err: unknown) => { c.log.error('rollback of a failed write failed (gc frees the rest): %e', err) })
      }
    }
  })()
}
