/**
 * The dashboard as a fastify plugin: the page, its assets and a JSON API
 * under one prefix, behind a login (admin token or per-workspace member
 * token) kept in an HttpOnly, SameSite=Strict session cookie. API calls may
 * also send `Authorization: Bearer <token>`.
 *
 * Nothing here ever reads or returns a swarm key: the workspace data comes
 * from `workspaceStatus()`, which carries only the key's fingerprint.
 */
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ConflictError, ForbiddenError, InvalidArgumentError, QuotaExceededError, StorageError, UnauthorizedError } from '../errors.js'
import { errorBody, normalisePath, toErrorReply } from '../orchestrator/http-errors.js'
import type { ErrorBody } from '../orchestrator/http-errors.js'
import { targetCopies } from '../orchestrator/placement.js'
import { normaliseCid } from '../util/cid.js'
import { bearerToken } from '../util/tokens.js'
import { createAssets, PAGE_SECURITY_HEADERS } from './assets.js'
import { registerFolderRoutes } from './folder-routes.js'
import { canAccess, createSessionStore, identify, readCookie, SESSION_COOKIE, sessionCookie } from './session.js'
import type { Identity } from './session.js'
import type { DashboardInit, DashboardOrchestrator } from './types.js'
import type { OrchestratorEvent, WorkspaceStatus } from '../orchestrator/types.js'

/** The body of every error answer. */
export type DashboardErrorBody = ErrorBody

function send (reply: FastifyReply, status: number, code: string, message: string, extra?: Record<string, number>): FastifyReply {
  return reply.code(status).send(errorBody(code, message, extra))
}

export { toErrorReply }

class DashboardStatusError extends StorageError {
  override readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.code = code
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    dashboardIdentity?: Identity
  }
}

/** A workspace's status as the page shows it: wanted copies per pin, pins per node, gateway flag. */
export interface DashboardWorkspaceStatus extends Omit<WorkspaceStatus, 'pins' | 'nodes'> {
  nodes: Array<WorkspaceStatus['nodes'][number] & { pins: number }>
  pins: Array<WorkspaceStatus['pins'][number] & { wanted: number }>
  gateway: boolean
}

/** Adds the page's derived fields to a workspace status. */
export function dashboardStatus (status: WorkspaceStatus, gateway: boolean): DashboardWorkspaceStatus {
  const pinsPerNode = new Map<string, number>()
  for (const p of status.pins) {
    for (const a of p.allocations) {
      if (a.state === 'unpinning') continue
      pinsPerNode.set(a.nodeId, (pinsPerNode.get(a.nodeId) ?? 0) + 1)
    }
  }
  return {
    ...status,
    nodes: status.nodes.map(n => ({ ...n, pins: pinsPerNode.get(n.id) ?? 0 })),
    pins: status.pins.map(p => ({ ...p, wanted: targetCopies(p.replicationMax, status.nodes.length) })),
    gateway
  }
}

function eventWorkspace (event: OrchestratorEvent): string | undefined {
  return 'workspaceId' in event ? event.workspaceId : undefined
}

function contentDisposition (name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}

const idParam = { type: 'string', minLength: 1, maxLength: 128 } as const
const cidParam = { type: 'string', minLength: 1, maxLength: 256 } as const
const wsParams = { type: 'object', properties: { ws: idParam }, required: ['ws'], additionalProperties: false } as const
const pinParams = { type: 'object', properties: { ws: idParam, cid: cidParam }, required: ['ws', 'cid'], additionalProperties: false } as const
const nodeParams = { type: 'object', properties: { ws: idParam, node: idParam }, required: ['ws', 'node'], additionalProperties: false } as const
const nodePinParams = { type: 'object', properties: { ws: idParam, node: idParam, cid: cidParam }, required: ['ws', 'node', 'cid'], additionalProperties: false } as const
const replication = { type: 'integer', minimum: 1, maximum: 1000 } as const

/**
 * Registers the dashboard (page + API) on `app` under `init.prefix`.
 * Returns a function that ends the live event streams and sessions (also run by `app.close()`).
 *
 * @example
 * ```ts
 * const app = Fastify()
 * registerDashboard(app, { orchestrator })
 * await app.listen({ host: '127.0.0.1', port: 7421 })
 * ```
 */
export function registerDashboard (app: FastifyInstance, init: DashboardInit): () => void {
  const prefix = (init.prefix ?? '/dashboard').replace(/\/+$/, '')
  const orch: DashboardOrchestrator = init.orchestrator
  const log = init.logger ?? { debug () {}, info () {}, warn () {}, error () {} }
  const gateway = init.gateway
  const members = init.memberTokens ?? []
  const ttlMs = init.sessionTtlMs ?? 12 * 3600 * 1000
  const sessions = createSessionStore(ttlMs)
  const assets = createAssets(prefix)
  const maxUpload = init.maxUploadBytes ?? Number.MAX_SAFE_INTEGER
  const defaultReplication = init.defaultReplication ?? 2
  const keepAliveMs = init.keepAliveMs ?? 15_000
  const streams = new Set<{ close: () => void }>()
  const cookiePath = prefix === '' ? '/' : prefix

  const api = prefix + '/api'

  function authenticate (req: FastifyRequest): Identity | undefined {
    const bearer = bearerToken(req.headers.authorization)
    if (bearer != null) return identify(bearer, orch.adminToken, members)
    return sessions.get(readCookie(req.headers.cookie, SESSION_COOKIE))
  }

  async function access (req: FastifyRequest, workspaceId: string): Promise<void> {
    const who = req.dashboardIdentity
    if (who == null) throw new UnauthorizedError('Log in first')
    if (!canAccess(who, workspaceId)) throw new ForbiddenError('No access to this workspace')
    await orch.getWorkspace(workspaceId) // 404 when it does not exist
  }

  function requireGateway (): NonNullable<typeof gateway> {
    if (gateway == null) throw new DashboardStatusError('ERR_GATEWAY_DISABLED', 'The workspace gateway is not enabled on this orchestrator')
    return gateway
  }

  function sendAsset (reply: FastifyReply, req: FastifyRequest, a: { body: string, contentType: string, etag: string }): FastifyReply {
    reply.headers(PAGE_SECURITY_HEADERS).header('cache-control', 'no-cache').header('etag', a.etag).type(a.contentType)
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send()
    return reply.send(a.body)
  }

  void app.register(async (scope) => {
    scope.setErrorHandler((err, _req, reply) => {
      const { status, body } = toErrorReply(err)
      if (status >= 500) log.error({ err: (err as Error).message }, 'dashboard request failed')
      return reply.code(status).send(body)
    })

    // uploads arrive as a raw stream, handed to the gateway chunk by chunk
    scope.addContentTypeParser('application/octet-stream', (_req, payload, done) => { done(null, payload) })

    // authorise on the matched route AND on the decoded, normalised path: an
    // encoded path (/dashboard/%61pi/session) matches the same route as the plain one
    const apiPath = api.toLowerCase()
    const open = new Set([api + '/login', api + '/logout'])
    const openPaths = new Set([...open].map(p => p.toLowerCase()))
    scope.addHook('onRequest', async (req, reply) => {
      const path = normalisePath(req.url)
      if (path === undefined) return send(reply, 400, 'ERR_INVALID_ARGUMENT', 'Malformed path')
      const route = req.routeOptions?.url
      if (route != null && open.has(route)) return
      const byRoute = route != null && route.startsWith(api + '/')
      const byPath = path.startsWith(apiPath + '/') && !openPaths.has(path)
      if (!byRoute && !byPath) return
      const who = authenticate(req)
      if (who == null) return send(reply, 401, 'ERR_UNAUTHORIZED', 'Log in first')
      req.dashboardIdentity = who
    })

    // ---- page ---------------------------------------------------------
    scope.get(prefix === '' ? '/' : prefix, async (_req, reply) => reply.redirect(`${prefix}/`))
    scope.get(`${prefix}/`, async (req, reply) => sendAsset(reply, req, assets.page()))
    scope.get(`${prefix}/style.css`, async (req, reply) => sendAsset(reply, req, assets.style()))
    scope.get<{ Params: { name: string } }>(`${prefix}/ui/:name`, {
      schema: { params: { type: 'object', properties: { name: { type: 'string', pattern: '^[a-z-]+\\.js$' } }, required: ['name'] } }
    }, async (req, reply) => {
      const a = await assets.module(req.params.name.slice(0, -3))
      if (a == null) return send(reply, 404, 'ERR_RECORD_NOT_FOUND', 'No such file')
      return sendAsset(reply, req, a)
    })

    // ---- session ------------------------------------------------------
    scope.post<{ Body: { token: string } }>(`${api}/login`, {
      schema: { body: { type: 'object', properties: { token: { type: 'string', minLength: 1, maxLength: 512 } }, required: ['token'], additionalProperties: false } }
    }, async (req, reply) => {
      const who = identify(req.body.token, orch.adminToken, members)
      if (who == null) return send(reply, 401, 'ERR_UNAUTHORIZED', 'Invalid token')
      const id = sessions.create(who)
      reply.header('set-cookie', sessionCookie(id, { path: cookiePath, maxAgeSeconds: Math.floor(ttlMs / 1000), secure: init.secureCookie === true }))
      return { role: who.role }
    })

    scope.post(`${api}/logout`, async (req, reply) => {
      sessions.delete(readCookie(req.headers.cookie, SESSION_COOKIE))
      reply.header('set-cookie', sessionCookie('', { path: cookiePath, maxAgeSeconds: 0, secure: init.secureCookie === true }))
      return reply.code(204).send()
    })

    scope.get(`${api}/session`, async (req) => {
      const who = req.dashboardIdentity
      if (who == null) throw new UnauthorizedError('Log in first')
      const workspaces = (await orch.listWorkspaces()).filter(w => canAccess(who, w.id)).map(w => ({ id: w.id, name: w.name }))
      return { role: who.role, workspaces }
    })

    // ---- workspace storage --------------------------------------------
    scope.get<{ Params: { ws: string } }>(`${api}/workspaces/:ws`, { schema: { params: wsParams } }, async (req) => {
      await access(req, req.params.ws)
      return dashboardStatus(await orch.workspaceStatus(req.params.ws), gateway != null)
    })

    scope.post<{ Params: { ws: string }, Body: { cid: string, name?: string, replicationMin?: number, replicationMax?: number } }>(`${api}/workspaces/:ws/pins`, {
      schema: {
        params: wsParams,
        body: {
          type: 'object',
          properties: { cid: cidParam, name: { type: 'string', maxLength: 1024 }, replicationMin: replication, replicationMax: { type: 'integer', minimum: -1, maximum: 1000 } },
          required: ['cid'],
          additionalProperties: false
        }
      }
    }, async (req, reply) => {
      await access(req, req.params.ws)
      const min = req.body.replicationMin ?? defaultReplication
      const pin = await orch.pin(req.params.ws, { cid: req.body.cid, name: req.body.name, replicationMin: min, replicationMax: req.body.replicationMax ?? min })
      return reply.code(201).send(pin)
    })

    scope.delete<{ Params: { ws: string, cid: string } }>(`${api}/workspaces/:ws/pins/:cid`, { schema: { params: pinParams } }, async (req, reply) => {
      await access(req, req.params.ws)
      await orch.unpin(req.params.ws, req.params.cid)
      return reply.code(204).send()
    })

    scope.post<{ Params: { ws: string }, Querystring: { name?: string, replication?: number }, Body: Readable }>(`${api}/workspaces/:ws/upload`, {
      bodyLimit: Number.MAX_SAFE_INTEGER,
      schema: {
        params: wsParams,
        querystring: { type: 'object', properties: { name: { type: 'string', maxLength: 1024 }, replication }, additionalProperties: false }
      }
    }, async (req, reply) => {
      await access(req, req.params.ws)
      const gw = requireGateway()
      if (!(req.body instanceof Readable)) throw new InvalidArgumentError('Send the file as application/octet-stream')
      const declared = req.headers['content-length'] != null ? Number(req.headers['content-length']) : undefined
      if (declared != null && declared > maxUpload) throw new QuotaExceededError(0, maxUpload, declared, `Uploads are limited to ${maxUpload} bytes`)
      const abort = new AbortController()
      const onClose = (): void => { if (!req.raw.complete) abort.abort() }
      req.raw.once('close', onClose)
      try {
        const n = req.query.replication ?? defaultReplication
        const result = await gw.upload(req.params.ws, limitStream(req.body, maxUpload), {
          name: req.query.name, size: declared, replicationMin: n, replicationMax: n, signal: abort.signal
        })
        return await reply.code(201).send(result)
      } catch (err) {
        // drain what the browser is still sending so the error answer reaches it
        req.body.resume()
        throw err
      } finally {
        req.raw.off('close', onClose)
      }
    })

    scope.get<{ Params: { ws: string, cid: string }, Querystring: { download?: string } }>(`${api}/workspaces/:ws/content/:cid`, {
      schema: { params: pinParams, querystring: { type: 'object', properties: { download: { type: 'string', maxLength: 8 } } } }
    }, async (req, reply) => {
      await access(req, req.params.ws)
      const gw = requireGateway()
      let name: string | null = null
      let size: number | null = null
      try {
        const pin = await orch.pinStatus(req.params.ws, req.params.cid)
        name = pin.name
        size = pin.size
      } catch (err) {
        // content that is not (or no longer) pinned here is still served: it has no name or size then
        log.debug({ workspaceId: req.params.ws, cid: req.params.cid, err: (err as Error).message }, 'download of an unpinned CID')
      }
      const abort = new AbortController()
      req.raw.once('close', () => { abort.abort() })
      const iterator = gw.cat(req.params.ws, req.params.cid, { signal: abort.signal })[Symbol.asyncIterator]()
      // fetch the first chunk before answering, so that "not found" is a JSON error and not a broken download
      const first = await iterator.next()
      async function * rest (): AsyncGenerator<Uint8Array> {
        if (first.done !== true) yield first.value
        while (true) {
          const next = await iterator.next()
          if (next.done === true) return
          yield next.value
        }
      }
      reply.header('content-type', 'application/octet-stream')
      reply.header('x-content-type-options', 'nosniff')
      reply.header('cache-control', 'private, max-age=31536000, immutable')
      if (size != null) reply.header('content-length', String(size))
      if (req.query.download != null) reply.header('content-disposition', contentDisposition(name ?? req.params.cid))
      return await reply.send(Readable.from(rest()))
    })

    // ---- folders: upload, browse, download (folder-routes.ts) ------------
    await registerFolderRoutes(scope, { api, access, requireGateway, defaultReplication, maxUploadBytes: maxUpload })

    // ---- node view -----------------------------------------------------
    scope.get<{ Params: { ws: string, node: string } }>(`${api}/workspaces/:ws/nodes/:node`, { schema: { params: nodeParams } }, async (req) => {
      await access(req, req.params.ws)
      const status = dashboardStatus(await orch.workspaceStatus(req.params.ws), gateway != null)
      const node = status.nodes.find(n => n.id === req.params.node)
      if (node == null) throw new DashboardStatusError('ERR_RECORD_NOT_FOUND', `Node ${req.params.node} is not a member of this workspace`)
      const pins = status.pins.flatMap(p => {
        const a = p.allocations.find(a => a.nodeId === node.id)
        return a == null ? [] : [{ ...p, state: a.state, error: a.error }]
      })
      return { node, pins }
    })

    scope.post<{ Params: { ws: string, node: string }, Body: { cid: string, name?: string } }>(`${api}/workspaces/:ws/nodes/:node/pins`, {
      schema: { params: nodeParams, body: { type: 'object', properties: { cid: cidParam, name: { type: 'string', maxLength: 1024 } }, required: ['cid'], additionalProperties: false } }
    }, async (req, reply) => {
      await access(req, req.params.ws)
      normaliseCid(req.body.cid) // a bad CID is a 400 before anything else
      const node = await orch.getNode(req.params.node)
      if (!node.workspaces.includes(req.params.ws)) throw new DashboardStatusError('ERR_RECORD_NOT_FOUND', `Node ${req.params.node} is not a member of this workspace`)
      if (!node.online) throw new ConflictError(`Node ${node.name} is offline: it cannot pin now`)
      return reply.code(201).send(await orch.pinOnNode(req.params.ws, req.params.node, { cid: req.body.cid, name: req.body.name }))
    })

    scope.delete<{ Params: { ws: string, node: string, cid: string } }>(`${api}/workspaces/:ws/nodes/:node/pins/:cid`, { schema: { params: nodePinParams } }, async (req, reply) => {
      await access(req, req.params.ws)
      await orch.unpinOnNode(req.params.ws, req.params.node, req.params.cid)
      return reply.code(204).send()
    })

    // ---- live updates (server-sent events) ------------------------------
    scope.get<{ Querystring: { workspace: string } }>(`${api}/events`, {
      schema: { querystring: { type: 'object', properties: { workspace: idParam }, required: ['workspace'] } }
    }, async (req, reply) => {
      const ws = req.query.workspace
      await access(req, ws)
      let memberIds = new Set((await orch.getWorkspace(ws)).members)
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no'
      })
      res.write('retry: 2000\n\n')
      const write = (event: OrchestratorEvent): void => {
        const target = eventWorkspace(event)
        if (target === ws && (event.type === 'member:added' || event.type === 'member:removed')) {
          // a member event names its node: count it at once, then take the list as stored
          if (event.type === 'member:added') memberIds.add(event.nodeId)
          orch.getWorkspace(ws).then(w => { memberIds = new Set(w.members) }, (err: Error) => {
            log.debug({ workspaceId: ws, err: err.message }, 'event stream could not refresh the members')
          })
        }
        const relevant = target != null ? target === ws : ('nodeId' in event && memberIds.has(event.nodeId))
        if (!relevant) return
        res.write(`data: ${JSON.stringify(event)}\n\n`)
      }
      const unsubscribe = orch.onChange(write)
      const timer = setInterval(() => { res.write(': keep-alive\n\n') }, keepAliveMs)
      timer.unref()
      const stream = {
        close: () => {
          clearInterval(timer)
          unsubscribe()
          streams.delete(stream)
          res.end()
        }
      }
      streams.add(stream)
      req.raw.once('close', stream.close)
    })
  })

  const close = (): void => {
    for (const s of [...streams]) s.close()
    sessions.clear()
  }
  // open event streams would keep the server from closing
  app.addHook('preClose', async () => { close() })
  return close
}

/** Passes a stream through, failing with QuotaExceededError once more than `limit` bytes went by. */
async function * limitStream (source: AsyncIterable<Uint8Array>, limit: number): AsyncGenerator<Uint8Array> {
  let total = 0
  for await (const chunk of source) {
    total += chunk.byteLength
    if (total > limit) throw new QuotaExceededError(0, limit, total, `Uploads are limited to ${limit} bytes`)
    yield chunk
  }
}
