/**
 * The dashboard's folder routes, inside its API scope (login and workspace
 * access checked by `routes.ts`):
 *
 * - `POST <api>/workspaces/:ws/upload-folder`: a multipart body whose file
 *   names are the paths in the folder (`<input webkitdirectory>`), imported
 *   by the gateway as one tree (all or nothing), then pinned on members and
 *   staged like a one-file upload (`WorkspaceGateway.uploadFolder`);
 * - `GET <api>/workspaces/:ws/browse/:cid[/*]`: a directory's entries;
 * - `GET <api>/workspaces/:ws/files/:cid/*`: one file inside it, as an
 *   attachment, or the folder as a tar with `?format=tar`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyMultipart from '@fastify/multipart'
import { InvalidArgumentError, QuotaExceededError } from '../errors.js'
import { HttpError } from '../runner/http/errors.js'
import type { WorkspaceNode } from '../node/types.js'
import { folderEntries } from '../runner/http/folder-upload.js'
import { readableAfterFirstChunk } from '../runner/http/stream.js'
import { tarStream, unixfsNodeInfo } from '../runner/http/tar.js'
import type { WorkspaceGateway } from './types.js'

export interface FolderRoutesInit {
  /** `<prefix>/api` */
  api: string
  /** Throws unless the session may use the workspace. */
  access: (req: FastifyRequest, workspaceId: string) => Promise<void>
  /** The gateway, or a 501 when it is disabled. */
  requireGateway: () => WorkspaceGateway
  defaultReplication: number
  maxUploadBytes: number
  /** Block fetch timeout of browsing and downloads, in ms. @default 60000 */
  timeoutMs?: number
}

const idParam = { type: 'string', minLength: 1, maxLength: 128 } as const
const cidParam = { type: 'string', minLength: 1, maxLength: 256 } as const
const pathParams = { type: 'object', properties: { ws: idParam, cid: cidParam, '*': { type: 'string', maxLength: 4096 } }, required: ['ws', 'cid'] } as const

/** `<cid>/<path>` with the path checked (no `.` or `..` segment). */
function contentPath (cid: string, rest = ''): string {
  const segments = rest.split('/').filter(s => s !== '')
  if (segments.some(s => s === '.' || s === '..')) throw new InvalidArgumentError('A path may not hold "." or ".." segments')
  return [cid, ...segments].join('/')
}

function attachment (name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}

/** An AbortSignal for the request: aborted when the browser goes away first. */
function closeSignal (req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const abort = new AbortController()
  reply.raw.once('close', () => { if (!reply.raw.writableFinished) abort.abort() })
  return abort.signal
}

export async function registerFolderRoutes (scope: FastifyInstance, init: FolderRoutesInit): Promise<void> {
  const { api, access, requireGateway } = init
  const timeout = init.timeoutMs ?? 60_000
  await scope.register(fastifyMultipart, {
    preservePath: true,
    limits: { fileSize: Infinity, files: 1_000_000, fields: 10, fieldSize: 1024, parts: 1_000_010, headerPairs: 100 }
  })

  const nodeOf = async (req: FastifyRequest, ws: string): Promise<WorkspaceNode> => {
    await access(req, ws)
    return await requireGateway().join(ws)
  }

  scope.post<{ Params: { ws: string }, Querystring: { replication?: number, wrap?: boolean } }>(`${api}/workspaces/:ws/upload-folder`, {
    schema: {
      params: { type: 'object', properties: { ws: idParam }, required: ['ws'], additionalProperties: false },
      querystring: { type: 'object', properties: { replication: { type: 'integer', minimum: 1, maximum: 1000 }, wrap: { type: 'boolean' } }, additionalProperties: false }
    }
  }, async (req, reply) => {
    if (!req.isMultipart()) throw new InvalidArgumentError('Send the folder as multipart/form-data, one part per file named with its path')
    await access(req, req.params.ws)
    const gateway = requireGateway()
    const signal = closeSignal(req, reply)
    try {
      const tops = new Set<string>()
      const source = (async function * () {
        for await (const entry of folderEntries(req.parts(), { maxBytes: init.maxUploadBytes, signal })) {
          tops.add(entry.path.split('/')[0])
          if (req.query.wrap !== true && tops.size > 1) throw new InvalidArgumentError('The files have several top-level names: upload one folder (or ask for ?wrap=true)')
          yield entry
        }
      })()
      const n = req.query.replication ?? init.defaultReplication
      // the gateway stages it like a one-file upload: its own pin goes once the members hold their copies
      const result = await gateway.uploadFolder(req.params.ws, source, {
        signal,
        replicationMin: n,
        replicationMax: n,
        wrapWithDirectory: req.query.wrap === true,
        // one part at a time: a part's content is read before the next one arrives
        fileConcurrency: 1
      })
      return await reply.code(201).send({ cid: result.cid, name: result.name, size: result.size, entries: result.entries, pin: result.pin })
    } catch (err) {
      // let the browser read the error instead of stalling on its upload
      req.raw.resume()
      // the dashboard's upload limit is answered as its one-file upload does (507)
      if (err instanceof HttpError && err.code === 'ERR_PAYLOAD_TOO_LARGE') {
        throw new QuotaExceededError(0, init.maxUploadBytes, init.maxUploadBytes + 1, `Uploads are limited to ${init.maxUploadBytes} bytes`)
      }
      throw err
    }
  })

  const browse = async (req: FastifyRequest<{ Params: { ws: string, cid: string, '*'?: string } }>, reply: FastifyReply): Promise<unknown> => {
    const node = await nodeOf(req, req.params.ws)
    const path = contentPath(req.params.cid, req.params['*'])
    const signal = closeSignal(req, reply)
    const { cid } = await node.resolve(path, { signal, timeout })
    const entries = []
    for await (const e of node.ls(cid, { signal, timeout })) entries.push({ name: e.name, cid: e.cid.toString(), size: e.size, type: e.type })
    return { cid: cid.toString(), path, entries }
  }
  scope.get(`${api}/workspaces/:ws/browse/:cid`, { schema: { params: pathParams } }, browse)
  scope.get(`${api}/workspaces/:ws/browse/:cid/*`, { schema: { params: pathParams } }, browse)

  const download = async (req: FastifyRequest<{ Params: { ws: string, cid: string, '*'?: string }, Querystring: { format?: 'tar' } }>, reply: FastifyReply): Promise<FastifyReply> => {
    const node = await nodeOf(req, req.params.ws)
    const path = contentPath(req.params.cid, req.params['*'])
    const signal = closeSignal(req, reply)
    const { cid } = await node.resolve(path, { signal, timeout })
    const segments = path.split('/')
    const name = segments.length > 1 ? segments[segments.length - 1] : cid.toString()
    const info = await unixfsNodeInfo(node, cid, { signal, timeout })
    reply.header('x-content-type-options', 'nosniff').header('cache-control', 'private, max-age=31536000, immutable')
    if (req.query.format === 'tar' || info.kind === 'directory') {
      const body = await readableAfterFirstChunk(tarStream(node, cid, name, { signal, timeout }))
      return await reply.header('content-type', 'application/x-tar').header('content-disposition', attachment(`${name}.tar`)).send(body)
    }
    const { size } = await node.stat(cid, { signal, timeout })
    const body = size === 0 ? '' : await readableAfterFirstChunk(node.cat(cid, { signal, timeout }))
    return await reply.header('content-type', 'application/octet-stream').header('content-length', String(size))
      .header('content-disposition', attachment(name)).send(body)
  }
  const downloadSchema = { params: pathParams, querystring: { type: 'object', properties: { format: { type: 'string', enum: ['tar'] } }, additionalProperties: false } }
  scope.get(`${api}/workspaces/:ws/files/:cid`, { schema: downloadSchema }, download)
  scope.get(`${api}/workspaces/:ws/files/:cid/*`, { schema: downloadSchema }, download)
}
