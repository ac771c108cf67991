/**
 * `buildApp()`: the node runner's local HTTP API as a Fastify instance, not
 * listening yet (call `app.listen({ host: '127.0.0.1', port })` or use
 * `app.inject()`). It serves the `/storage` API, `GET /health` and a Kubo RPC
 * subset under `/api/v0`, behind a bearer token and Host/Origin checks.
 */
import Fastify from 'fastify'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { IncomingMessage } from 'node:http'
import { ForbiddenError, InvalidConfigError, StorageError, UnauthorizedError } from '../../errors.js'
import type { StorageNode } from '../../node/types.js'
import { describeError, errorBody, HttpError } from '../../util/http-errors.js'
import { createRouteTable } from './route-table.js'
import { bearerToken, tokensEqual } from '../../util/tokens.js'
import { kuboError } from './errors.js'
import { kuboRoutes } from './kubo-routes.js'
import { generateApiToken, isAllowedHost, isAllowedOrigin } from './security.js'
import { storageRoutes } from './storage-routes.js'

export interface BuildAppInit {
  /** The storage node the API serves. */
  storageNode: StorageNode
  /**
   * Bearer token every request except `GET /health` and CORS preflights must
   * carry (`Authorization: Bearer <token>`, or `?token=<token>` for browser
   * links and forms). `false` turns authentication off.
   * @default a random token, readable as `app.apiToken`
   */
  apiToken?: string | false
  /**
   * `false`/`true`, Fastify logger options, or a pino-compatible logger
   * instance. The `?token=` query value never reaches the logs.
   * @default false
   */
  logger?: boolean | FastifyServerOptions['logger'] | FastifyBaseLogger
  /**
   * Host names (or exact `host:port`) accepted in `Host` and `Origin` besides
   * 127.0.0.1, localhost and [::1].
   * @default []
   */
  allowedHosts?: string[]
  /** Exact origins (e.g. `https://app.example.com`) allowed to call the API from a browser. @default [] */
  allowedOrigins?: string[]
  /** Workspace used when a request names none and several are joined. @default undefined */
  defaultWorkspace?: string
  /** Largest accepted upload in bytes (the quota still applies). @default Infinity */
  maxUploadBytes?: number
  /** Largest JSON request body in bytes. @default 65536 */
  jsonBodyLimit?: number
  /** Default timeout in ms for fetching content from peers (`?timeout=` overrides). @default 30000 */
  defaultTimeout?: number
  /** Upper bound for `?timeout=` in ms. @default 3600000 */
  maxTimeout?: number
  /** Version reported by `/api/v0/version`. @default '0.38.0' */
  kuboVersion?: string
}

/** The Fastify instance returned by `buildApp`, with the token in force. */
export type HttpApp = FastifyInstance & {
  /** The bearer token requests must present, or false when authentication is off. */
  readonly apiToken: string | false
}

const kQueryToken = Symbol('otherthing-storage.http.queryToken')

type RawWithToken = IncomingMessage & { [kQueryToken]?: string }

/**
 * Moves a `token` query parameter out of the URL before routing and logging,
 * so it never shows up in logs; the auth hook reads it from the raw request.
 */
function stripQueryToken (req: RawWithToken): string {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  if (q < 0) return url
  const params = new URLSearchParams(url.slice(q + 1))
  const token = params.get('token')
  if (token == null) return url
  req[kQueryToken] = token
  params.delete('token')
  const rest = params.toString()
  return url.slice(0, q) + (rest !== '' ? `?${rest}` : '')
}

/** Longest path parameter (a CID) the router accepts; longer ones are answered 414 ERR_URI_TOO_LONG. */
export const MAX_PARAM_LENGTH = 1024

const KUBO_PREFIX = '/api/v0'

/** Every error of the `/storage` API and of the router: `{ error: { code, message } }`, with the status of `util/http-errors.ts`. */
function sendError (err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const info = describeError(err)
  if (info.statusCode >= 500 && !(err instanceof StorageError)) request.log.error({ err }, 'request failed')
  if (info.statusCode === 401) reply.header('www-authenticate', 'Bearer')
  reply.header('content-type', 'application/json; charset=utf-8').removeHeader('content-length')
  if (request.url.startsWith(`${KUBO_PREFIX}/`)) {
    // the Kubo RPC's own routes have their handler; this is for errors the router raises on its paths
    const { statusCode, body } = kuboError(info)
    void reply.code(statusCode).header('x-error-code', info.code).send(body)
    return
  }
  void reply.code(info.statusCode).send(errorBody(info))
}

function isLoggerInstance (logger: unknown): logger is FastifyBaseLogger {
  return typeof logger === 'object' && logger != null && typeof (logger as any).child === 'function' && typeof (logger as any).info === 'function'
}

/** Builds the HTTP API over `storageNode` (not listening). @throws {InvalidConfigError} for a bad option */
export function buildApp (init: BuildAppInit): HttpApp {
  if (init.storageNode == null) throw new InvalidConfigError('buildApp needs a storageNode')
  const apiToken = init.apiToken ?? generateApiToken()
  if (apiToken !== false && (typeof apiToken !== 'string' || apiToken.length < 8)) {
    throw new InvalidConfigError('apiToken must be a string of at least 8 characters, or false')
  }
  const allowedHosts = init.allowedHosts ?? []
  const allowedOrigins = init.allowedOrigins ?? []
  const maxUploadBytes = init.maxUploadBytes ?? Infinity
  const defaultTimeout = init.defaultTimeout ?? 30_000
  const maxTimeout = init.maxTimeout ?? 3_600_000

  const serverOptions: FastifyServerOptions = {
    bodyLimit: init.jsonBodyLimit ?? 64 * 1024,
    // a path parameter holds a CID: room for every valid one (a sha2-512 CIDv1 is 110 characters), 414 above
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // errors the router raises before any route or hook runs (bad percent-encoding, a parameter too long)
    frameworkErrors: (err, request, reply) => { sendError(err, request, reply) },
    rewriteUrl: (req) => stripQueryToken(req as RawWithToken),
    return503OnClosing: true
  }
  const app = (isLoggerInstance(init.logger)
    ? Fastify({ ...serverOptions, loggerInstance: init.logger })
    : Fastify({ ...serverOptions, logger: (init.logger ?? false) as FastifyServerOptions['logger'] })) as unknown as FastifyInstance

  app.decorate('apiToken', { getter: () => apiToken })

  // 1. DNS-rebinding and cross-site protection, before anything else (even /health)
  app.addHook('onRequest', async (request, reply) => {
    if (!isAllowedHost(request.headers.host, allowedHosts)) {
      throw new ForbiddenError('Host not allowed')
    }
    const origin = request.headers.origin
    if (origin != null) {
      if (!isAllowedOrigin(origin, allowedHosts, allowedOrigins)) throw new ForbiddenError('Origin not allowed')
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin')
        .header('access-control-expose-headers', 'Content-Length, Content-Range, Content-Disposition, ETag, X-Stream-Output, X-Chunked-Output, X-Error-Code')
    }
  })

  // 2. bearer token (not for the health check nor for CORS preflights)
  app.addHook('onRequest', async (request) => {
    if (apiToken === false || request.method === 'OPTIONS') return
    if (request.routeOptions.url === '/health') return
    const given = bearerToken(request.headers.authorization) ?? (request.raw as RawWithToken)[kQueryToken]
    if (given == null) throw new UnauthorizedError('Missing API token (Authorization: Bearer <token>)')
    if (!tokensEqual(given, apiToken)) throw new UnauthorizedError('Wrong API token')
  })

  app.setErrorHandler((err, request, reply) => { sendError(err, request, reply) })
  const routes = createRouteTable()
  app.addHook('onRoute', (route) => { routes.add(route.method, route.url ?? route.path) })
  app.setNotFoundHandler({
    preHandler: async () => {}
  }, (request, reply) => {
    const path = request.url.split('?')[0]
    const allowed = routes.methodsOf(path)
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '))
      sendError(new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}`), request, reply)
      return
    }
    sendError(new HttpError(404, 'ERR_ROUTE_NOT_FOUND', `No route ${request.method} ${path}`), request, reply)
  })

  app.options('/*', {
    schema: { querystring: { type: 'object', additionalProperties: true } }
  }, async (_request, reply) => {
    return reply.code(204)
      .header('access-control-allow-methods', 'GET, HEAD, POST, DELETE')
      .header('access-control-allow-headers', 'Authorization, Content-Type, Range, If-None-Match, If-Range, X-Workspace')
      .header('access-control-max-age', '600')
      .send()
  })

  app.get('/health', {
    schema: {
      response: {
        200: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] }
      }
    }
  }, async () => ({ status: 'ok' }))

  const routeOptions = { storageNode: init.storageNode, defaultWorkspace: init.defaultWorkspace, maxUploadBytes, defaultTimeout, maxTimeout }
  void app.register(storageRoutes, routeOptions)
  void app.register(kuboRoutes, { ...routeOptions, prefix: KUBO_PREFIX, kuboVersion: init.kuboVersion ?? '0.38.0' })

  return app as HttpApp
}
