/**
 * The dashboard on its own port: `buildDashboardApp()` (no listen, for
 * `inject()` tests) and `createDashboardServer()` (listen / stop). To serve it
 * on the orchestrator's own port instead, use `createOrchestrator({ dashboard: true })`.
 */
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { registerDashboard } from './routes.js'
import { errorBody, toErrorReply } from '../orchestrator/http-errors.js'
import type { DashboardInit, DashboardServer, DashboardServerInit } from './types.js'

export interface DashboardApp {
  app: FastifyInstance
  /** Ends the live event streams and closes the app. */
  close(): Promise<void>
}

/**
 * A fastify app with only the dashboard (page under `prefix`, `/` redirects to it).
 *
 * @example
 * ```ts
 * const { app } = buildDashboardApp({ orchestrator })
 * const res = await app.inject({ method: 'POST', url: '/dashboard/api/login', payload: { token: orchestrator.adminToken } })
 * ```
 */
export function buildDashboardApp (init: DashboardInit): DashboardApp {
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false } } }) as unknown as FastifyInstance
  const closeStreams = registerDashboard(app, init)
  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = toErrorReply(err)
    return reply.code(status).send(body)
  })
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody('ERR_ROUTE_NOT_FOUND', 'No such route')))
  const prefix = (init.prefix ?? '/dashboard').replace(/\/+$/, '')
  if (prefix !== '') app.get('/', async (_req, reply) => reply.redirect(`${prefix}/`))
  return {
    app,
    async close () {
      closeStreams()
      await app.close()
    }
  }
}

/**
 * Serves the dashboard on its own port (127.0.0.1 by default).
 *
 * @example
 * ```ts
 * const dashboard = createDashboardServer({ orchestrator, gateway, port: 7421 })
 * console.log('dashboard at', await dashboard.start())
 * ```
 */
export function createDashboardServer (init: DashboardServerInit): DashboardServer {
  let built: DashboardApp | undefined
  let url = ''
  const prefix = (init.prefix ?? '/dashboard').replace(/\/+$/, '')
  return {
    get url () { return url },
    async start () {
      if (built != null) return url
      built = buildDashboardApp(init)
      try {
        await built.app.listen({ host: init.host ?? '127.0.0.1', port: init.port ?? 7421 })
      } catch (err) {
        await built.close()
        built = undefined
        throw err
      }
      const address = built.app.server.address()
      if (address == null || typeof address === 'string') throw new Error('Server has no TCP address')
      const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address
      url = `http://${host}:${address.port}${prefix}/`
      return url
    },
    async stop () {
      const b = built
      built = undefined
      url = ''
      if (b != null) await b.close()
    }
  }
}
