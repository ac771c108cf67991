/**
 * The admin API: JSON over HTTP(S), `Authorization: Bearer <admin token>`,
 * thin routes over the orchestrator's methods. `buildAdminApp()` does not
 * listen, so tests can use `app.inject()`.
 */
import Fastify from 'fastify'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { toErrorReply } from './http-errors.js'
import { bearerToken, hashToken, tokenMatches } from '../util/tokens.js'
import type { Orchestrator } from './types.js'

export interface AdminAppInit {
  adminToken: string
  /** PEM certificate and key for HTTPS. */
  tls?: { cert: string | Buffer, key: string | Buffer }
  /** Largest accepted JSON body. @default 1048576 */
  bodyLimit?: number
  /** Where unexpected (500) errors are logged. @default none */
  logger?: { error(obj: object, msg?: string): void }
}

type AdminMethods = Pick<Orchestrator, 'createWorkspace' | 'listWorkspaces' | 'getWorkspace' | 'rotateKey' | 'createNode' | 'listNodes' | 'getNode' |
'addMember' | 'removeMember' | 'pin' | 'unpin' | 'pinStatus' | 'workspaceStatus'> & Partial<Pick<Orchestrator, 'isLeader'>>

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } },
  required: ['error']
} as const

const idParam = { type: 'string', minLength: 1, maxLength: 128 } as const
const wsParams = { type: 'object', properties: { id: idParam }, required: ['id'], additionalProperties: false } as const
const memberParams = { type: 'object', properties: { id: idParam, nodeId: idParam }, required: ['id', 'nodeId'], additionalProperties: false } as const
const pinParams = { type: 'object', properties: { id: idParam, cid: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['id', 'cid'], additionalProperties: false } as const

function send (reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } })
}

/**
 * Builds the admin app over an orchestrator (or anything with its methods).
 *
 * Routes: `GET /health` (`{ ok, leader }`); `GET|POST /workspaces`; `GET /workspaces/:id`;
 * `GET /workspaces/:id/status`; `POST /workspaces/:id/rotate-key`;
 * `PUT|DELETE /workspaces/:id/members/:nodeId`; `POST /workspaces/:id/pins`;
 * `GET|DELETE /workspaces/:id/pins/:cid`; `GET|POST /nodes`; `GET /nodes/:id`.
 *
 * @example
 * ```ts
 * const app = buildAdminApp(orchestrator, { adminToken })
 * const res = await app.inject({ method: 'GET', url: '/workspaces', headers: { authorization: `Bearer ${adminToken}` } })
 * ```
 */
export function buildAdminApp (orch: AdminMethods, init: AdminAppInit): FastifyInstance {
  const options: Record<string, unknown> = {
    logger: false,
    bodyLimit: init.bodyLimit ?? 1024 * 1024,
    // refuse unknown fields instead of silently dropping them
    ajv: { customOptions: { removeAdditional: false } }
  }
  if (init.tls != null) options.https = { cert: init.tls.cert, key: init.tls.key }
  const app = Fastify(options) as unknown as FastifyInstance
  const adminHash = hashToken(init.adminToken)

  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = toErrorReply(err)
    if (status >= 500) init.logger?.error({ err: (err as Error).message }, 'admin request failed')
    return reply.code(status).send(body)
  })
  app.setNotFoundHandler((_req, reply) => send(reply, 404, 'ERR_ROUTE_NOT_FOUND', 'No such route'))

  // the admin routes and their bearer check live in their own scope, so that
  // other routes on the same server (the dashboard, plugins) have their own rules
  void app.register(async (scope) => {
    scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.url === '/health') return
      const token = bearerToken(req.headers.authorization)
      if (token == null || !tokenMatches(token, adminHash)) {
        return send(reply, 401, 'ERR_UNAUTHORIZED', 'Missing or invalid admin token')
      }
    })

    const r = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema }

    // `leader`: whether this instance places pins (one of several on PostgreSQL leads; alone, it always does)
    scope.get('/health', { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, leader: { type: 'boolean' } } } } } }, async () => ({ ok: true, leader: orch.isLeader ?? true }))

    scope.get('/workspaces', { schema: { response: r } }, async () => ({ workspaces: await orch.listWorkspaces() }))

    scope.post<{ Body: { id?: string, name: string } }>('/workspaces', {
      schema: {
        body: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 64 }, name: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['name'], additionalProperties: false },
        response: r
      }
    }, async (req, reply) => reply.code(201).send(await orch.createWorkspace(req.body)))

    scope.get<{ Params: { id: string } }>('/workspaces/:id', { schema: { params: wsParams, response: r } }, async (req) => await orch.getWorkspace(req.params.id))

    scope.get<{ Params: { id: string } }>('/workspaces/:id/status', { schema: { params: wsParams, response: r } }, async (req) => await orch.workspaceStatus(req.params.id))

    scope.post<{ Params: { id: string } }>('/workspaces/:id/rotate-key', { schema: { params: wsParams, response: r } }, async (req) => await orch.rotateKey(req.params.id))

    scope.put<{ Params: { id: string, nodeId: string } }>('/workspaces/:id/members/:nodeId', { schema: { params: memberParams, response: r } }, async (req, reply) => {
      await orch.addMember(req.params.id, req.params.nodeId)
      return reply.code(204).send()
    })

    scope.delete<{ Params: { id: string, nodeId: string }, Querystring: { purge?: boolean } }>('/workspaces/:id/members/:nodeId', {
      schema: { params: memberParams, querystring: { type: 'object', properties: { purge: { type: 'boolean' } }, additionalProperties: false }, response: r }
    }, async (req, reply) => {
      await orch.removeMember(req.params.id, req.params.nodeId, { purge: req.query.purge === true })
      return reply.code(204).send()
    })

    scope.post<{ Params: { id: string }, Body: { cid: string, replicationMin?: number, replicationMax?: number, name?: string, size?: number } }>('/workspaces/:id/pins', {
      schema: {
        params: wsParams,
        body: {
          type: 'object',
          properties: {
            cid: { type: 'string', minLength: 1, maxLength: 256 },
            replicationMin: { type: 'integer', minimum: 1 },
            replicationMax: { type: 'integer', minimum: -1 },
            name: { type: 'string', maxLength: 1024 },
            size: { type: 'integer', minimum: 0 }
          },
          required: ['cid'],
          additionalProperties: false
        },
        response: r
      }
    }, async (req, reply) => reply.code(201).send(await orch.pin(req.params.id, req.body)))

    scope.get<{ Params: { id: string, cid: string } }>('/workspaces/:id/pins/:cid', { schema: { params: pinParams, response: r } }, async (req) => await orch.pinStatus(req.params.id, req.params.cid))

    scope.delete<{ Params: { id: string, cid: string } }>('/workspaces/:id/pins/:cid', { schema: { params: pinParams, response: r } }, async (req, reply) => {
      await orch.unpin(req.params.id, req.params.cid)
      return reply.code(204).send()
    })

    scope.get('/nodes', { schema: { response: r } }, async () => ({ nodes: await orch.listNodes() }))

    scope.post<{ Body: { name: string } }>('/nodes', {
      schema: { body: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['name'], additionalProperties: false }, response: r }
    }, async (req, reply) => reply.code(201).send(await orch.createNode(req.body)))

    scope.get<{ Params: { id: string } }>('/nodes/:id', { schema: { params: wsParams, response: r } }, async (req) => await orch.getNode(req.params.id))
  })

  return app
}
