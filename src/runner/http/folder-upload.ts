/**
 * A multipart body as a folder: each file part is one file of the tree, its
 * relative path in the part's file name (`d/sub/video.mp4`, URI-encoded the
 * way Kubo's clients send it); `application/x-directory` parts are (empty)
 * folders. The parts stream straight into `addAll` one after the other; the
 * byte limit counts the whole body.
 */
import type { Multipart, MultipartFile } from '@fastify/multipart'
import { InvalidArgumentError } from '../../errors.js'
import type { AddAllEntry as FolderEntry } from '../../node/types.js'
import { HttpError } from './errors.js'

export interface FolderPartsOptions {
  /** Refuse the upload with 413 once the files' bytes pass this. @default Infinity */
  maxBytes?: number
  /** After each chunk: the file's path and its bytes so far. */
  onBytes?: (path: string, bytes: number) => void
  /** Called with each form field (not a file). */
  onField?: (name: string, value: string) => void
  signal?: AbortSignal
}

/**
 * The relative path of a part: URI-decoded, `\` as `/`, no leading `/` or
 * `./`, no empty, `.` or `..` segment.
 * @throws {InvalidArgumentError}
 */
export function partPath (filename: string): string {
  let name = filename
  try { name = decodeURIComponent(filename) } catch { /* a literal % in the name: keep it as sent */ }
  const segments = name.replace(/\\/g, '/').split('/').filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)))
  if (segments[0] === '.') segments.shift()
  if (segments.length === 0) throw new InvalidArgumentError('A part has no file name (its path in the folder)')
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') throw new InvalidArgumentError(`Invalid path in the folder: ${JSON.stringify(name.slice(0, 200))}`)
    if (s.includes('\0')) throw new InvalidArgumentError('A path holds a NUL character')
  }
  return segments.join('/')
}

/** Kubo sends a file's mode and mtime in the part's field name: `file-1?mode=0644&mtime=1700000000`. */
function metadataOf (fieldname: string): Pick<FolderEntry, 'mode' | 'mtime'> {
  const q = fieldname.indexOf('?')
  if (q < 0) return {}
  const params = new URLSearchParams(fieldname.slice(q + 1))
  const out: Pick<FolderEntry, 'mode' | 'mtime'> = {}
  const mode = params.get('mode')
  if (mode != null && /^[0-7]{1,6}$/.test(mode)) out.mode = parseInt(mode, 8)
  const mtime = params.get('mtime')
  if (mtime != null && /^-?\d+$/.test(mtime)) {
    const nsecs = Number(params.get('mtime-nsecs') ?? 0)
    out.mtime = { secs: Number(mtime), ...(Number.isInteger(nsecs) && nsecs >= 0 && nsecs < 1e9 ? { nsecs } : {}) }
  }
  return out
}

const isDirectoryPart = (part: MultipartFile): boolean => part.mimetype === 'application/x-directory'

/** The folder entries of a multipart body, streamed; a file's content must be read before the next entry is asked for. */
export async function * folderEntries (parts: AsyncIterable<Multipart>, options: FolderPartsOptions = {}): AsyncGenerator<FolderEntry> {
  const maxBytes = options.maxBytes ?? Infinity
  let total = 0
  for await (const part of parts) {
    options.signal?.throwIfAborted()
    if (part.type === 'field') {
      if (typeof part.value === 'string') options.onField?.(part.fieldname, part.value)
      continue
    }
    const path = partPath(part.filename ?? '')
    if (isDirectoryPart(part)) {
      part.file.resume()
      yield { path: path + '/', ...metadataOf(part.fieldname) }
      continue
    }
    const file = part.file
    const content = (async function * (): AsyncGenerator<Uint8Array> {
      let bytes = 0
      for await (const chunk of file as AsyncIterable<Buffer>) {
        options.signal?.throwIfAborted()
        bytes += chunk.byteLength
        total += chunk.byteLength
        if (total > maxBytes) throw new HttpError(413, 'ERR_PAYLOAD_TOO_LARGE', `Upload larger than the ${maxBytes}-byte limit`)
        options.onBytes?.(path, bytes)
        yield chunk
      }
      // busboy marks a file cut by its size limit instead of failing it
      if ((file as { truncated?: boolean }).truncated === true) throw new HttpError(413, 'ERR_PAYLOAD_TOO_LARGE', 'A file passed the size limit')
    })()
    yield { path, content, ...metadataOf(part.fieldname) }
  }
}
