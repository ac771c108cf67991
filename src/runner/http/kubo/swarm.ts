/**
 * Kubo's `swarm/connect`, `swarm/addrs` and `swarm/addrs/local`, over the
 * workspace's private swarm (only peers with the workspace key connect).
 */
import type { FastifyInstance } from 'fastify'
import { resolveWorkspace } from '../params.js'
import { argsOf, query } from './common.js'
import type { CommonQuery, KuboGroupOptions } from './common.js'

export async function kuboSwarmRoutes (app: FastifyInstance, opts: KuboGroupOptions): Promise<void> {
  const workspaceOf = (request: Parameters<typeof resolveWorkspace>[1]): ReturnType<typeof resolveWorkspace> =>
    resolveWorkspace(opts.storageNode, request, opts.defaultWorkspace)

  // Kubo: {"Strings":["connect <peer id> success"]}; a failure is a 500 error
  app.post('/swarm/connect', { schema: { querystring: query() } }, async (request) => {
    const q = request.query as CommonQuery
    const addresses = argsOf(q, 'address')
    const workspace = workspaceOf(request)
    const strings: string[] = []
    for (const address of addresses) {
      await workspace.connect(address)
      const peer = /\/p2p\/([^/]+)$/.exec(address)?.[1] ?? address
      strings.push(`connect ${peer} success`)
    }
    return { Strings: strings }
  })

  // Kubo: {"Addrs":{"<peer id>":["<multiaddr>", ...]}} for the peers it knows
  app.post('/swarm/addrs', { schema: { querystring: query() } }, async (request) => {
    const workspace = workspaceOf(request)
    const addrs: Record<string, string[]> = {}
    for (const peer of workspace.peers()) {
      addrs[peer.peerId] = peer.addresses.map(a => a.replace(/\/p2p\/[^/]+$/, ''))
    }
    return { Addrs: addrs }
  })

  // Kubo: {"Strings":[...]} of our own addresses, with /p2p/<id> when ?id=true
  app.post('/swarm/addrs/local', { schema: { querystring: query({ id: { type: 'boolean', default: false } }) } }, async (request) => {
    const q = request.query as CommonQuery & { id: boolean }
    const workspace = workspaceOf(request)
    const own = workspace.multiaddrs()
    return { Strings: q.id ? own : own.map(a => a.replace(/\/p2p\/[^/]+$/, '')) }
  })
}
