/**
 * Folders on the `/storage` API (issue #12):
 *
 * - `GET|HEAD /storage/<cid>/<path>`: the file at a path inside a DAG (ranges,
 *   ETag, a content type from the file name), or a directory's JSON listing;
 * - on a directory or any path, `?format=tar` a tar stream, `?format=car` or
 *   `Accept: application/vnd.ipld.car` a CARv1 of the whole DAG, and
 *   `?format=raw` or `Accept: application/vnd.ipld.raw` the one block, with
 *   the trustless gateway's content types and headers;
 * - `POST /storage/car`: imports a CAR body (checked, pinned, all or nothing);
 * - `uploadFolder()`: the multipart folder upload of `POST /storage/upload`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { CID } from 'multiformats/cid'
import { ContentNotFoundError, InvalidArgumentError } from '../../errors.js'
import type { AddOptions, StorageNode, WorkspaceNode } from '../../node/types.js'
import { HttpError } from './errors.js'
import { folderEntries } from './folder-upload.js'
import { contentDisposition, contentTypeFor, etagMatches, parseCid, parseRange, requestSignal, resolveWorkspace } from './params.js'
import { readableAfterFirstChunk } from './stream.js'
import { tarStream, unixfsNodeInfo } from './tar.js'
import { countingSource, drainRequest } from './upload.js'
import { notFoundOnTimeout } from './errors.js'

export interface StorageFolderRoutesOptions {
  storageNode: StorageNode
  defaultWorkspace?: string
  maxUploadBytes: number
  defaultTimeout: number
  maxTimeout: number
}

export type ResponseFormat = 'car' | 'raw' | 'tar'

const CAR_TYPE = 'application/vnd.ipld.car'
const RAW_TYPE = 'application/vnd.ipld.raw'
const TAR_TYPE = 'application/x-tar'

/** The format a request asks for: `?format=` first, then the Accept header (trustless gateway). */
export function requestedFormat (request: FastifyRequest): ResponseFormat | undefined {
  const format = (request.query as { format?: string }).format
  if (format === 'car' || format === 'raw' || format === 'tar') return format
  const accept = request.headers.accept ?? ''
  if (accept.includes(CAR_TYPE)) return 'car'
  if (accept.includes(RAW_TYPE)) return 'raw'
  if (accept.includes(TAR_TYPE)) return 'tar'
  return undefined
}

export interface ServeOptions {
  signal: AbortSignal
  timeout: number
  /** The path as asked (`<cid>/a/b`), for X-Ipfs-Path and file names. */
  path: string
}

function lastSegment (path: string): string | undefined {
  const segments = path.split('/').filter(s => s !== '')
  return segments.length > 1 ? segments[segments.length - 1] : undefined
}

/**
 * Answers a request for `cid` when it is a directory or asks for a CAR, a
 * raw block or a tar (then the reply is sent: returns true); returns false for
 * a plain file (the caller serves it).
 */
export async function serveFolderOrFormat (request: FastifyRequest, reply: FastifyReply, node: WorkspaceNode, cid: CID, options: ServeOptions): Promise<boolean> {
  const format = requestedFormat(request)
  const { signal, timeout } = options
  const name = lastSegment(options.path) ?? cid.toString()
  reply.header('x-ipfs-path', `/ipfs/${options.path}`).header('x-content-type-options', 'nosniff').header('vary', 'Accept')
    .header('cache-control', 'private, max-age=31536000, immutable')
  if (format === 'raw') {
    const etag = `"${cid.toString()}.raw"`
    if (etagMatches(request.headers['if-none-match'], etag)) {
      void reply.code(304).header('etag', etag).send()
      return true
    }
    const deadline = AbortSignal.timeout(timeout)
    const block = await node.blockGet(cid, { signal: AbortSignal.any([signal, deadline]), timeout }).catch((err: unknown) => {
      if (deadline.aborted && !signal.aborted) throw new ContentNotFoundError('Content not found within the timeout', { cause: err })
      throw err
    })
    reply.header('content-type', RAW_TYPE).header('etag', etag).header('content-length', String(block.byteLength))
      .header('content-disposition', contentDisposition(`${cid.toString()}.bin`)).header('x-ipfs-roots', cid.toString())
    void (request.method === 'HEAD' ? reply.send() : reply.send(Buffer.from(block.buffer, block.byteOffset, block.byteLength)))
    return true
  }
  if (format === 'car') {
    const etag = `"${cid.toString()}.car"`
    if (etagMatches(request.headers['if-none-match'], etag)) {
      void reply.code(304).header('etag', etag).send()
      return true
    }
    reply.header('content-type', `${CAR_TYPE}; version=1`).header('etag', etag).header('accept-ranges', 'none')
      .header('content-disposition', contentDisposition(`${name}.car`)).header('x-ipfs-roots', cid.toString())
    if (request.method === 'HEAD') void reply.send()
    else void reply.send(await readableAfterFirstChunk(node.exportCar(cid, { signal, timeout })).catch(notFoundOnTimeout))
    return true
  }
  const info = await unixfsNodeInfo(node, cid, { signal, timeout }).catch(notFoundOnTimeout)
  reply.header('x-unixfs-type', info.kind)
  if (format === 'tar') {
    const etag = `"${cid.toString()}.x-tar"`
    if (etagMatches(request.headers['if-none-match'], etag)) {
      void reply.code(304).header('etag', etag).send()
      return true
    }
    reply.header('content-type', TAR_TYPE).header('etag', etag).header('content-disposition', contentDisposition(`${name}.tar`))
    if (request.method === 'HEAD') void reply.send()
    else void reply.send(await readableAfterFirstChunk(tarStream(node, cid, name, { signal, timeout })).catch(notFoundOnTimeout))
    return true
  }
  if (info.kind !== 'directory') return false
  const etag = `"${cid.toString()}.dir"`
  if (etagMatches(request.headers['if-none-match'], etag)) {
    void reply.code(304).header('etag', etag).send()
    return true
  }
  const entries: Array<{ name: string, cid: string, size: number, type: string }> = []
  for await (const e of node.ls(cid, { signal, timeout })) entries.push({ name: e.name, cid: e.cid.toString(), size: e.size, type: e.type })
  reply.header('etag', etag).header('content-type', 'application/json; charset=utf-8')
  const body = { cid: cid.toString(), path: options.path, type: 'directory', entries }
  void (request.method === 'HEAD' ? reply.send() : reply.send(body))
  return true
}

/** Splits `<cid>/a/b` (or `/ipfs/<cid>/a/b`): the root CID (checked) and the path. */
function splitPath (cidParam: string, rest: string): { root: CID, path: string } {
  const root = parseCid(cidParam)
  const segments = rest.split('/').filter(s => s !== '')
  if (segments.some(s => s === '.' || s === '..')) throw new InvalidArgumentError('A path may not hold "." or ".." segments')
  return { root, path: [root.toString(), ...segments].join('/') }
}

const errorResponse = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'], additionalProperties: true } },
  required: ['error']
} as const

export async function storageFolderRoutes (app: FastifyInstance, opts: StorageFolderRoutesOptions): Promise<void> {
  const workspaceOf = (request: FastifyRequest): WorkspaceNode => resolveWorkspace(opts.storageNode, request, opts.defaultWorkspace)
  const timeoutOf = (t: number | undefined): number => Math.min(t ?? opts.defaultTimeout, opts.maxTimeout)

  app.route({
    method: ['GET', 'HEAD'],
    url: '/storage/:cid/*',
    exposeHeadRoute: false,
    schema: {
      params: { type: 'object', properties: { cid: { type: 'string', minLength: 1, maxLength: 512 }, '*': { type: 'string', maxLength: 4096 } }, required: ['cid'] },
      querystring: {
        type: 'object',
        properties: {
          workspace: { type: 'string', minLength: 1, maxLength: 128 },
          timeout: { type: 'integer', minimum: 1 },
          filename: { type: 'string', minLength: 1, maxLength: 255 },
          format: { type: 'string', enum: ['car', 'raw', 'tar'] },
          download: { type: 'boolean' }
        },
        additionalProperties: false
      },
      response: { '4xx': errorResponse, '5xx': errorResponse }
    },
    handler: async (request, reply) => {
      const params = request.params as { cid: string, '*'?: string }
      const query = request.query as { timeout?: number, filename?: string, download?: boolean }
      const { path } = splitPath(params.cid, params['*'] ?? '')
      const node = workspaceOf(request)
      const signal = requestSignal(request, reply)
      const timeout = timeoutOf(query.timeout)
      const { cid } = await node.resolve(path, { signal, timeout }).catch(notFoundOnTimeout)
      if (await serveFolderOrFormat(request, reply, node, cid, { signal, timeout, path })) return reply
      return await serveFile(request, reply, node, cid, { signal, timeout, path, filename: query.filename ?? lastSegment(path), download: query.download === true || query.filename != null })
    }
  })

  app.addContentTypeParser(CAR_TYPE, (_request, payload, done) => { done(null, payload) })

  app.post('/storage/car', {
    bodyLimit: Number.MAX_SAFE_INTEGER,
    schema: {
      querystring: {
        type: 'object',
        properties: { workspace: { type: 'string', minLength: 1, maxLength: 128 }, pin: { type: 'boolean', default: true } },
        additionalProperties: false
      },
      response: {
        201: {
          type: 'object',
          properties: { roots: { type: 'array', items: { type: 'string' } }, blocks: { type: 'integer' }, bytes: { type: 'integer' }, workspace: { type: 'string' } },
          required: ['roots', 'blocks', 'bytes', 'workspace']
        },
        '4xx': errorResponse,
        '5xx': errorResponse
      }
    }
  }, async (request, reply) => {
    const { pin } = request.query as { pin: boolean }
    const body = request.body as AsyncIterable<Uint8Array> | undefined
    if (body == null || typeof (body as any)[Symbol.asyncIterator] !== 'function') {
      throw new HttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'Send the CAR as application/vnd.ipld.car or application/octet-stream')
    }
    const workspace = workspaceOf(request)
    const signal = requestSignal(request, reply)
    try {
      const result = await workspace.importCar(countingSource(body, { maxBytes: opts.maxUploadBytes, signal }), { pin, signal })
      reply.code(201)
      return { roots: result.roots.map(r => r.toString()), blocks: result.blocks, bytes: result.bytes, workspace: workspace.workspaceId }
    } catch (err) {
      reply.header('connection', 'close')
      drainRequest(request)
      throw err
    }
  })
}

/** A file (by CID or inside a DAG): ranges, ETag, a content type from its name, immutable caching. */
export async function serveFile (request: FastifyRequest, reply: FastifyReply, node: WorkspaceNode, cid: CID, options: ServeOptions & { filename?: string, download: boolean }): Promise<FastifyReply> {
  const etag = `"${cid.toString()}"`
  if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).header('etag', etag).send()
  const { signal, timeout } = options
  const size = (await node.stat(cid, { signal, timeout }).catch(notFoundOnTimeout)).size
  let range
  const ifRange = request.headers['if-range']
  if (typeof ifRange !== 'string' || ifRange.replace(/^W\//, '') === etag) {
    try {
      range = parseRange(request.headers.range, size)
    } catch (err) {
      reply.header('content-range', `bytes */${size}`)
      throw err
    }
  }
  const offset = range?.start ?? 0
  const length = range != null ? range.end - range.start + 1 : size
  let body: NodeJS.ReadableStream | string = ''
  if (request.method === 'GET' && length > 0) {
    body = await readableAfterFirstChunk(node.cat(cid, { offset, length, timeout, signal })).catch(notFoundOnTimeout)
  }
  reply.header('content-type', contentTypeFor(options.filename)).header('content-length', String(length)).header('etag', etag)
    .header('accept-ranges', 'bytes').header('content-security-policy', 'sandbox')
    .header('cache-control', 'private, max-age=31536000, immutable').header('x-content-type-options', 'nosniff')
    .header('x-ipfs-path', `/ipfs/${options.path}`)
  if (options.download && options.filename != null) reply.header('content-disposition', contentDisposition(options.filename))
  if (range != null) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`)
  return request.method === 'HEAD' ? reply.send() : reply.send(body)
}

export interface FolderUploadResult {
  cid: CID
  /** The root's path: its top-level name (`''` when wrapped). */
  path: string
  size: number
  /** Files and folders added (the root included). */
  entries: number
}

/**
 * The multipart body of `POST /storage/upload` as one folder (each part's
 * file name its path in the tree): all of it or none of it. The root is the
 * single top-level entry, or a wrapping directory when `wrap` (or when the
 * parts have several top-level names).
 */
export async function uploadFolder (request: FastifyRequest, workspace: WorkspaceNode, options: AddOptions & { maxBytes: number, wrap?: boolean, onField?: (name: string, value: string) => void }): Promise<FolderUploadResult> {
  const node = workspace
  const { maxBytes, wrap, onField, ...addOptions } = options
  const tops = new Set<string>()
  const entries = (async function * () {
    for await (const entry of folderEntries(request.parts(), { maxBytes, signal: options.signal, onField })) {
      tops.add(entry.path.split('/')[0])
      // refused inside the stream, so that the node rolls back what it added
      if (wrap !== true && tops.size > 1) {
        throw new InvalidArgumentError('The parts have several top-level names: put them in one folder or ask for ?wrap=true')
      }
      yield entry
    }
  })()
  let root
  let count = 0
  // fileConcurrency 1: the parts arrive one after the other, a part's content must be read before the next one comes
  for await (const added of node.addAll(entries, { ...addOptions, wrapWithDirectory: wrap, fileConcurrency: 1 })) {
    count++
    root = added
  }
  if (root == null) throw new InvalidArgumentError('The multipart body has no file part')
  return { cid: root.cid, path: root.path, size: root.size, entries: count }
}
