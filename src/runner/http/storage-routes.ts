/**
 * The `/storage` routes: upload (octet-stream or multipart), download with
 * ranges and ETags, pin, unpin + GC, the pin list and the usage stats.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fastifyMultipart from '@fastify/multipart'
import { NotPinnedError } from '../../errors.js'
import type { AddOptions, StorageNode, WorkspaceNode } from '../../node/types.js'
import { HttpError } from './errors.js'
import { etagMatches, parseCid, requestSignal, resolveWorkspace } from './params.js'
import { countingSource, drainRequest } from './upload.js'
import { serveFile, serveFolderOrFormat, storageFolderRoutes, uploadFolder } from './storage-folder-routes.js'
import { notFoundOnTimeout } from './errors.js'

/** Most files one folder upload may hold. */
const MAX_FOLDER_FILES = 1_000_000

export interface StorageRoutesOptions {
  storageNode: StorageNode
  defaultWorkspace?: string
  maxUploadBytes: number
  defaultTimeout: number
  maxTimeout: number
}

const errorResponse = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
      additionalProperties: true
    }
  },
  required: ['error']
} as const

const workspaceQuery = { workspace: { type: 'string', minLength: 1, maxLength: 128 } } as const
const cidParams = {
  type: 'object',
  properties: { cid: { type: 'string', minLength: 1, maxLength: 512 } },
  required: ['cid']
} as const
const pinInfo = {
  type: 'object',
  properties: { cid: { type: 'string' }, size: { type: 'integer' }, name: { type: 'string' } },
  required: ['cid', 'size']
} as const

/** A byte count for JSON: non-finite values (unknown, unlimited) become null. */
const n = (x: number): number | null => Number.isFinite(x) ? x : null
const count = { type: ['integer', 'null'] } as const

export async function storageRoutes (app: FastifyInstance, opts: StorageRoutesOptions): Promise<void> {
  const { storageNode, defaultWorkspace } = opts
  const workspaceOf = (request: FastifyRequest): WorkspaceNode => resolveWorkspace(storageNode, request, defaultWorkspace)
  const timeoutOf = (t: number | undefined): number => Math.min(t ?? opts.defaultTimeout, opts.maxTimeout)

  // Uploads: raw bodies are passed through as the request stream (never read here),
  // multipart bodies are parsed part by part by @fastify/multipart.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => { done(null, payload) })
  await app.register(fastifyMultipart, {
    // keep the folders in the file names (busboy keeps only the base name otherwise)
    preservePath: true,
    limits: { fileSize: Infinity, files: MAX_FOLDER_FILES, fields: 20, fieldSize: 64 * 1024, parts: MAX_FOLDER_FILES + 20, headerPairs: 100 }
  })

  // GET /storage/<cid>/<path>, POST /storage/car
  await storageFolderRoutes(app, opts)

  app.post('/storage/upload', {
    schema: {
      querystring: {
        type: 'object',
        properties: {
          ...workspaceQuery,
          name: { type: 'string', maxLength: 255 },
          profile: { type: 'string', enum: ['kubo', 'cidv1'] },
          pin: { type: 'boolean', default: true },
          wrap: { type: 'boolean', default: false }
        },
        additionalProperties: false
      },
      response: {
        201: {
          type: 'object',
          properties: { cid: { type: 'string' }, size: { type: 'integer' }, workspace: { type: 'string' }, name: { type: 'string' }, entries: { type: 'integer' } },
          required: ['cid', 'size', 'workspace']
        },
        '4xx': errorResponse,
        '5xx': errorResponse
      }
    }
  }, async (request, reply) => {
    const query = request.query as { name?: string, profile?: 'kubo' | 'cidv1', pin: boolean, wrap: boolean }
    const signal = requestSignal(request, reply)
    const workspace = workspaceOf(request)
    const addOptions: AddOptions = { signal, profile: query.profile ?? 'kubo', pin: query.pin }
    let name = query.name
    try {
      let result
      if (request.isMultipart()) {
        // a folder: each part's file name is its path in the tree; all of it or none of it
        let fieldName: string | undefined
        const folder = await uploadFolder(request, workspace, {
          ...addOptions,
          name,
          maxBytes: opts.maxUploadBytes,
          wrap: query.wrap,
          onField: (field, value) => { if (field === 'name') fieldName ??= value }
        })
        // the pin is named after the form's name field, else the folder's (or single file's) name
        if (name == null && (fieldName ?? folder.path) !== '') {
          name = fieldName ?? folder.path
          if (query.pin) await workspace.pin(folder.cid, { name, signal })
        }
        reply.code(201)
        return { cid: folder.cid.toString(), size: folder.size, workspace: workspace.workspaceId, entries: folder.entries, ...(name != null ? { name } : {}) }
      } else {
        const body = request.body as AsyncIterable<Uint8Array> | undefined
        if (body == null || typeof (body as any)[Symbol.asyncIterator] !== 'function') {
          throw new HttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'Send the file as application/octet-stream or multipart/form-data')
        }
        result = await workspace.add(countingSource(body, { maxBytes: opts.maxUploadBytes, signal }), { ...addOptions, name })
      }
      reply.code(201)
      return { cid: result.cid.toString(), size: result.size, workspace: workspace.workspaceId, ...(name != null ? { name } : {}) }
    } catch (err) {
      reply.header('connection', 'close')
      drainRequest(request)
      throw err
    }
  })

  app.route({
    method: ['GET', 'HEAD'],
    url: '/storage/:cid',
    exposeHeadRoute: false,
    schema: {
      params: cidParams,
      querystring: {
        type: 'object',
        properties: {
          ...workspaceQuery,
          timeout: { type: 'integer', minimum: 1 },
          filename: { type: 'string', minLength: 1, maxLength: 255 },
          format: { type: 'string', enum: ['car', 'raw', 'tar'] }
        },
        additionalProperties: false
      },
      response: { '4xx': errorResponse, '5xx': errorResponse }
    },
    handler: getContent
  })

  async function getContent (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { cid: cidParam } = request.params as { cid: string }
    const query = request.query as { timeout?: number, filename?: string }
    const cid = parseCid(cidParam)
    const workspace = workspaceOf(request)
    const etag = `"${cid.toString()}"`
    if (etagMatches(request.headers['if-none-match'], etag)) {
      return reply.code(304).header('etag', etag).send()
    }
    const signal = requestSignal(request, reply)
    const timeout = timeoutOf(query.timeout)
    // a directory, or a CAR / raw block / tar asked for: storage-folder-routes.ts
    if (await serveFolderOrFormat(request, reply, workspace, cid, { signal, timeout, path: cid.toString() })) return reply
    return await serveFile(request, reply, workspace, cid, { signal, timeout, path: cid.toString(), filename: query.filename, download: query.filename != null })
  }

  app.post('/storage/pin', {
    schema: {
      querystring: { type: 'object', properties: workspaceQuery, additionalProperties: false },
      body: {
        type: 'object',
        properties: {
          cid: { type: 'string', minLength: 1, maxLength: 512 },
          name: { type: 'string', maxLength: 255 },
          timeout: { type: 'integer', minimum: 1 }
        },
        required: ['cid'],
        additionalProperties: false
      },
      response: {
        '2xx': {
          type: 'object',
          properties: {
            cid: { type: 'string' },
            size: { type: 'integer' },
            name: { type: 'string' },
            workspace: { type: 'string' },
            alreadyPinned: { type: 'boolean' }
          },
          required: ['cid', 'size', 'workspace']
        },
        '4xx': errorResponse,
        '5xx': errorResponse
      }
    }
  }, async (request, reply) => {
    const body = request.body as { cid: string, name?: string, timeout?: number }
    const cid = parseCid(body.cid)
    const workspace = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const alreadyPinned = await workspace.isPinned(cid, { signal })
    const info = await workspace.pin(cid, { signal, timeout: timeoutOf(body.timeout), name: body.name }).catch(notFoundOnTimeout)
    reply.code(alreadyPinned ? 200 : 201)
    return {
      cid: info.cid.toString(),
      size: info.size,
      ...(info.name != null ? { name: info.name } : {}),
      workspace: workspace.workspaceId,
      alreadyPinned
    }
  })

  app.delete('/storage/:cid', {
    schema: {
      params: cidParams,
      querystring: {
        type: 'object',
        properties: { ...workspaceQuery, gc: { type: 'boolean', default: true } },
        additionalProperties: false
      },
      response: {
        200: {
          type: 'object',
          properties: { cid: { type: 'string' }, workspace: { type: 'string' }, unpinned: { type: 'boolean' }, freedBytes: { type: 'integer' } },
          required: ['cid', 'workspace', 'unpinned', 'freedBytes']
        },
        '4xx': errorResponse,
        '5xx': errorResponse
      }
    }
  }, async (request, reply) => {
    const { cid: cidParam } = request.params as { cid: string }
    const { gc } = request.query as { gc: boolean }
    const cid = parseCid(cidParam)
    const workspace = workspaceOf(request)
    const signal = requestSignal(request, reply)
    if (!(await workspace.isPinned(cid, { signal }))) throw new NotPinnedError(`${cid.toString()} is not pinned`)
    await workspace.unpin(cid, { signal })
    const freedBytes = gc ? (await workspace.gc({ signal })).freedBytes : 0
    return { cid: cid.toString(), workspace: workspace.workspaceId, unpinned: true, freedBytes }
  })

  app.get('/storage/pins', {
    schema: {
      querystring: { type: 'object', properties: workspaceQuery, additionalProperties: false },
      response: {
        200: {
          type: 'object',
          properties: { workspace: { type: 'string' }, pins: { type: 'array', items: pinInfo } },
          required: ['workspace', 'pins']
        },
        '4xx': errorResponse,
        '5xx': errorResponse
      }
    }
  }, async (request, reply) => {
    const workspace = workspaceOf(request)
    const pins = await workspace.pins({ signal: requestSignal(request, reply) })
    return {
      workspace: workspace.workspaceId,
      pins: pins.map(p => ({ cid: p.cid.toString(), size: p.size, ...(p.name != null ? { name: p.name } : {}) }))
    }
  })

  const workspaceStats = {
    type: 'object',
    properties: {
      workspace: { type: 'string' },
      peerId: { type: 'string' },
      used: count,
      blocks: count,
      quota: count,
      quotaUsed: count,
      free: count,
      driveFree: count,
      pins: count,
      peers: count
    }
  } as const

  app.get('/storage/stats', {
    schema: {
      querystring: { type: 'object', properties: {}, additionalProperties: false },
      response: {
        200: {
          type: 'object',
          properties: {
            quota: count,
            used: count,
            free: count,
            driveFree: count,
            workspaces: { type: 'array', items: workspaceStats }
          },
          required: ['quota', 'used', 'free', 'driveFree', 'workspaces']
        },
        '4xx': errorResponse,
        '5xx': errorResponse
      }
    }
  }, async (request, reply) => {
    const s = await storageNode.stats({ signal: requestSignal(request, reply) })
    return {
      quota: n(s.quotaBytes),
      used: n(s.usedBytes),
      free: n(s.freeBytes),
      driveFree: n(s.driveFreeBytes),
      workspaces: s.workspaces.map(w => ({
        workspace: w.workspaceId,
        peerId: w.peerId,
        used: n(w.repoBytes),
        blocks: w.blocks,
        quota: n(w.quotaBytes),
        quotaUsed: n(w.quotaUsedBytes),
        free: n(Math.max(0, w.quotaBytes - w.quotaUsedBytes)),
        driveFree: n(w.driveFreeBytes),
        pins: w.pins,
        peers: w.peers
      }))
    }
  })
}

