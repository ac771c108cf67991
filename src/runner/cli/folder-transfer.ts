/**
 * Folder transfers of the CLI over the node's `/storage` API: a folder on
 * disk streamed as one multipart upload (each part named with its path, as
 * Kubo's `add -r` sends it), and a directory downloaded as a tar stream and
 * unpacked into a temp folder renamed into place (nothing half-written is
 * left behind). Files are streamed, never read whole.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { lstat, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join, posix } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { extract as tarExtract } from 'tar-stream'
import { InvalidArgumentError, StorageError } from '../../errors.js'
import type { ByteProgress } from '../../node/types.js'
import type { ApiTarget } from '../api-client.js'
import { apiFetch, storageUrl } from './api.js'

export interface FolderEntryOnDisk {
  /** Path inside the folder, `/`-separated, the folder's own name first. */
  path: string
  /** Absolute path on disk (files only). */
  file?: string
  size: number
}

/**
 * The entries of a folder, depth first in name order, folders before their
 * contents; dot-files skipped unless `hidden`; symlinks are reported to
 * `onSkip` and left out.
 */
export async function listFolder (dir: string, options: { hidden?: boolean, onSkip?: (path: string, why: string) => void } = {}): Promise<FolderEntryOnDisk[]> {
  const out: FolderEntryOnDisk[] = []
  const top = basename(dir)
  out.push({ path: top, size: 0 })
  async function walk (abs: string, rel: string): Promise<void> {
    const names = (await readdir(abs)).sort()
    for (const name of names) {
      if (!options.hidden && name.startsWith('.')) continue
      const full = join(abs, name)
      const path = `${rel}/${name}`
      const s = await lstat(full)
      if (s.isSymbolicLink()) { options.onSkip?.(path, 'symlink'); continue }
      if (s.isDirectory()) {
        out.push({ path, size: 0 })
        await walk(full, path)
      } else if (s.isFile()) {
        out.push({ path, file: full, size: s.size })
      } else {
        options.onSkip?.(path, 'not a regular file')
      }
    }
  }
  await walk(dir, top)
  return out
}

/** The multipart body of a folder: a `application/x-directory` part per folder, a file part per file. */
async function * multipartBody (entries: FolderEntryOnDisk[], boundary: string, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  let sent = 0
  for (const e of entries) {
    const type = e.file == null ? 'application/x-directory' : 'application/octet-stream'
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${encodeURIComponent(e.path)}"\r\nContent-Type: ${type}\r\n\r\n`)
    if (e.file != null) {
      for await (const chunk of createReadStream(e.file) as AsyncIterable<Buffer>) {
        sent += chunk.byteLength
        onBytes(sent)
        yield chunk
      }
    }
    yield Buffer.from('\r\n')
  }
  yield Buffer.from(`--${boundary}--\r\n`)
}

export interface UploadFolderOptions {
  profile?: 'kubo' | 'cidv1'
  pin?: boolean
  hidden?: boolean
  wrap?: boolean
  /** Server-side fetch timeout, in ms. */
  timeout?: number
  onProgress?: (progress: ByteProgress) => void
  onSkip?: (path: string, why: string) => void
  signal?: AbortSignal
}

/** Uploads the folder `dir` as one tree; resolves to its root. */
export async function uploadFolder (target: ApiTarget, dir: string, options: UploadFolderOptions = {}): Promise<{ cid: string, size: number, entries: number }> {
  const entries = await listFolder(dir, { hidden: options.hidden, onSkip: options.onSkip })
  const total = entries.reduce((n, e) => n + e.size, 0)
  const boundary = `----otherthing${randomBytes(12).toString('hex')}`
  const url = storageUrl(target, '/storage/upload', { name: basename(dir), profile: options.profile, pin: options.pin === false ? 'false' : undefined, wrap: options.wrap === true ? 'true' : undefined })
  const body = Readable.from(multipartBody(entries, boundary, bytes => { options.onProgress?.({ bytes, total }) }))
  const res = await apiFetch(target, url, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Readable.toWeb(body) as ReadableStream,
    duplex: 'half',
    signal: options.signal
  })
  const parsed = await res.json() as { cid: string, size: number, entries?: number }
  return { cid: parsed.cid, size: parsed.size, entries: parsed.entries ?? entries.length }
}

/** A tar entry's path below the top folder, checked: no absolute path, no `..`. */
function innerPath (name: string): string | undefined {
  const normal = posix.normalize(name.replace(/\\/g, '/'))
  if (normal.startsWith('/') || normal === '..' || normal.startsWith('../')) throw new StorageError(`Unsafe path in the archive: ${JSON.stringify(name.slice(0, 200))}`)
  const slash = normal.indexOf('/')
  if (slash < 0) return undefined // the top folder itself
  const rest = normal.slice(slash + 1).replace(/\/+$/, '')
  return rest === '' ? undefined : rest
}

/**
 * Downloads the directory at `path` as a tar stream and unpacks it into
 * `dest` (which must not exist; checked by the caller before): into a temp
 * folder beside it, renamed when complete, removed on any failure.
 * Symlinks are created last, so no file is ever written through one.
 * @returns the bytes of file content written
 */
export async function downloadFolder (target: ApiTarget, path: string, dest: string, options: { timeout?: number, signal?: AbortSignal, onProgress?: (p: ByteProgress) => void } = {}): Promise<number> {
  const url = storageUrl(target, `/storage/${path}`, { format: 'tar', timeout: options.timeout })
  const res = await apiFetch(target, url, { method: 'GET', signal: options.signal })
  if (res.body == null) throw new StorageError('Empty answer')
  const tmp = join(dirname(dest), `.${basename(dest)}.${randomBytes(4).toString('hex')}.part`)
  const links: Array<{ at: string, target: string }> = []
  let bytes = 0
  await mkdir(tmp)
  try {
    const extract = tarExtract()
    const feeding = pipeline(Readable.fromWeb(res.body as any), extract as unknown as NodeJS.WritableStream, { signal: options.signal })
    for await (const entry of extract) {
      const rel = innerPath(entry.header.name)
      const at = rel == null ? tmp : join(tmp, ...rel.split('/'))
      if (entry.header.type === 'directory') {
        await mkdir(at, { recursive: true })
        entry.resume()
      } else if (entry.header.type === 'symlink') {
        if (rel == null) throw new InvalidArgumentError('The top of the folder is a symlink')
        links.push({ at, target: entry.header.linkname ?? '' })
        entry.resume()
      } else if (entry.header.type === 'file') {
        if (rel == null) throw new StorageError('Expected a folder, the archive holds a file')
        await mkdir(dirname(at), { recursive: true })
        const counted = (async function * () {
          for await (const chunk of entry as AsyncIterable<Buffer>) {
            bytes += chunk.byteLength
            options.onProgress?.({ bytes })
            yield chunk
          }
        })()
        await pipeline(Readable.from(counted), createWriteStream(at, { flags: 'wx' }))
      } else {
        entry.resume()
      }
    }
    await feeding
    for (const l of links) await symlink(l.target, l.at)
    await rename(tmp, dest)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  return bytes
}
