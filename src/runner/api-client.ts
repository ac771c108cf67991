/**
 * The node API client: a streaming HTTP client for a node's `/storage` API, used by the CLI's `add`
 * and `get` and by the demo: uploads stream from a file (never read whole),
 * downloads stream to a temp file renamed into place, both with byte
 * progress.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { basename, dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { randomBytes } from 'node:crypto'
import { Transform } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import * as errors from '../errors.js'
import type { ByteProgress } from '../node/types.js'
import { throwIfAborted } from '../util/abort.js'

export interface ApiTarget {
  /** Base URL of the node API, e.g. `http://127.0.0.1:5080`. */
  api: string
  /** Bearer token, if the API wants one. */
  token?: string
  /** Workspace to use; the node's only workspace when absent. */
  workspace?: string
}

export interface TransferOptions {
  onProgress?: (progress: ByteProgress) => void
  signal?: AbortSignal
}

export interface UploadOptions extends TransferOptions {
  /** Recorded with the pin. @default the file's base name */
  name?: string
  profile?: 'kubo' | 'cidv1'
  /** @default true */
  pin?: boolean
}

export interface UploadResult {
  cid: string
  size: number
}

/** Paths of the node API used here. */
export const STORAGE_ROUTES = {
  upload: '/storage/upload',
  content: (cid: string) => `/storage/${encodeURIComponent(cid)}`
}

/**
 * An HTTP error answer of the node API, turned back into the named error of
 * `src/errors.ts` with the same `code` when there is one.
 */
export function apiError (status: number, body: string): Error {
  let code: string | undefined
  let message = `HTTP ${status}`
  const parsed = parseJson(body)
  if (parsed !== undefined) {
    code = parsed?.error?.code ?? parsed?.code ?? parsed?.Code
    message = parsed?.error?.message ?? parsed?.message ?? parsed?.Message ?? message
  } else if (body.trim() !== '') {
    message = body.trim().slice(0, 200) // not JSON (a proxy's page...): its text is the message
  }
  const Cls = typeof code === 'string' ? errorClassByCode().get(code) : undefined
  if (Cls != null) return new Cls(message)
  return new errors.StorageError(`${message} (HTTP ${status}${code !== undefined ? `, ${code}` : ''})`)
}

function parseJson (text: string): any {
  try {
    return JSON.parse(text)
  } catch {
    return undefined // the caller handles a body that is not JSON
  }
}

type MessageOnlyError = new (message?: string) => errors.StorageError
let byCode: Map<string, MessageOnlyError> | undefined

/** Our error classes whose constructor takes a message only, by `code` (quota errors need numbers: they stay StorageErrors). */
function errorClassByCode (): Map<string, MessageOnlyError> {
  if (byCode != null) return byCode
  byCode = new Map()
  for (const Cls of Object.values(errors)) {
    if (typeof Cls !== 'function' || !(Cls.prototype instanceof errors.StorageError)) continue
    if (Cls === errors.QuotaExceededError || Cls === errors.DiskReserveError) continue
    const probe = new (Cls as MessageOnlyError)()
    byCode.set(probe.code, Cls as MessageOnlyError)
  }
  return byCode
}

function send (url: URL, init: { method: string, headers: Record<string, string | number>, signal?: AbortSignal }, body?: NodeJS.ReadableStream): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: init.method, headers: init.headers, signal: init.signal })
    req.once('response', resolve)
    req.once('error', reject)
    if (body === undefined) {
      req.end()
    } else {
      body.once('error', (err) => { req.destroy(err) })
      body.pipe(req)
    }
  })
}

async function readText (res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res) {
    if (size < 1_000_000) chunks.push(chunk as Buffer)
    size += (chunk as Buffer).byteLength
  }
  return Buffer.concat(chunks).toString('utf8')
}

function headers (target: ApiTarget, extra: Record<string, string | number> = {}): Record<string, string | number> {
  return {
    ...(target.token !== undefined ? { authorization: `Bearer ${target.token}` } : {}),
    ...extra
  }
}

function counter (onBytes: (n: number) => void): Transform {
  let bytes = 0
  return new Transform({
    transform (chunk: Buffer, _enc, cb) {
      bytes += chunk.byteLength
      onBytes(bytes)
      cb(null, chunk)
    }
  })
}

/**
 * Uploads a file to the node's `/storage/upload`, streaming it from disk.
 *
 * @throws the named error the API answered with (e.g. `QuotaExceededError` as a `StorageError` with its code)
 * @example
 * ```ts
 * const { cid } = await uploadFile({ api: runner.url, token: runner.token }, './movie.mkv', {
 *   onProgress: ({ bytes, total }) => { console.log(bytes, total) }
 * })
 * ```
 */
export async function uploadFile (target: ApiTarget, filePath: string, options: UploadOptions = {}): Promise<UploadResult> {
  throwIfAborted(options.signal)
  const size = (await stat(filePath)).size
  const url = new URL(STORAGE_ROUTES.upload, target.api)
  if (target.workspace !== undefined) url.searchParams.set('workspace', target.workspace)
  url.searchParams.set('name', options.name ?? basename(filePath))
  if (options.profile !== undefined) url.searchParams.set('profile', options.profile)
  if (options.pin === false) url.searchParams.set('pin', 'false')
  const body = createReadStream(filePath).pipe(counter(bytes => { options.onProgress?.({ bytes, total: size }) }))
  const res = await send(url, {
    method: 'POST',
    headers: headers(target, { 'content-type': 'application/octet-stream', 'content-length': size }),
    signal: options.signal
  }, body)
  const text = await readText(res)
  if (res.statusCode === undefined || res.statusCode >= 300) throw apiError(res.statusCode ?? 0, text)
  const parsed = JSON.parse(text)
  return { cid: String(parsed.cid ?? parsed.Hash), size: Number(parsed.size ?? parsed.Size ?? size) }
}

/**
 * Opens the content of `cid` from the node's `/storage/<cid>` as a stream.
 * `total` is the Content-Length when the node sends one.
 */
export async function openDownload (target: ApiTarget, cid: string, options: TransferOptions = {}): Promise<{ stream: IncomingMessage, total?: number }> {
  throwIfAborted(options.signal)
  const url = new URL(STORAGE_ROUTES.content(cid), target.api)
  if (target.workspace !== undefined) url.searchParams.set('workspace', target.workspace)
  const res = await send(url, { method: 'GET', headers: headers(target), signal: options.signal })
  if (res.statusCode === undefined || res.statusCode >= 300) throw apiError(res.statusCode ?? 0, await readText(res))
  const length = Number(res.headers['content-length'])
  return { stream: res, ...(Number.isFinite(length) && res.headers['content-length'] !== undefined ? { total: length } : {}) }
}

/**
 * Downloads `cid` to `outputPath` (a temp file in the same directory,
 * renamed when complete) or, with `outputPath` `'-'`, to `stdout`.
 *
 * @returns the bytes written
 */
export async function downloadToFile (target: ApiTarget, cid: string, outputPath: string, options: TransferOptions & { stdout?: NodeJS.WritableStream } = {}): Promise<number> {
  const { stream, total } = await openDownload(target, cid, options)
  let bytes = 0
  const count = counter(n => { bytes = n; options.onProgress?.({ bytes: n, ...(total !== undefined ? { total } : {}) }) })
  if (outputPath === '-') {
    await pipeline(stream, count, options.stdout ?? process.stdout, { end: false, signal: options.signal })
    return bytes
  }
  const tmp = join(dirname(outputPath), `.${basename(outputPath)}.${randomBytes(4).toString('hex')}.part`)
  try {
    await pipeline(stream, count, createWriteStream(tmp, { flags: 'wx' }), { signal: options.signal })
    if (total !== undefined && bytes !== total) throw new errors.StorageError(`Download ended early: ${bytes} of ${total} bytes`)
    await rename(tmp, outputPath)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  return bytes
}
