/**
 * A subset of Kubo's RPC API (`/api/v0`), shaped like Kubo so that Kubo
 * tools and `kubo-rpc-client` work unchanged: cat, pin/add, pin/rm,
 * pin/ls, repo/stat, repo/gc, id, version, swarm/peers here; add, get, ls,
 * block, dag, refs and more swarm commands in `kubo/` (the full list is
 * `KUBO_COMMANDS`). POST only, like Kubo.
 */
import { arch, platform } from 'node:process'
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import fastifyMultipart from '@fastify/multipart'
import { peerIdFromString } from '@libp2p/peer-id'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { InvalidArgumentError, NotPinnedError, StorageError } from '../../errors.js'
import type { WorkspaceNode } from '../../node/types.js'
import { describeError, HttpError, kuboError } from './errors.js'
import { parseCid, parseDuration, requestSignal, resolveWorkspace } from './params.js'
import { readableAfterFirstChunk } from './stream.js'
import { kuboGroups, KUBO_NOT_FOUND_TEXT } from './kubo/index.js'
import { notFoundOnTimeout } from './errors.js'
import { ndjson, query } from './kubo/common.js'
import type { CommonQuery, KuboGroupOptions } from './kubo/common.js'

export interface KuboRoutesOptions extends KuboGroupOptions {
  /** Reported by `version`. */
  kuboVersion: string
}

export async function kuboRoutes (app: FastifyInstance, opts: KuboRoutesOptions): Promise<void> {
  const { storageNode } = opts
  const workspaceOf = (request: FastifyRequest): WorkspaceNode => resolveWorkspace(storageNode, request, opts.defaultWorkspace)
  const timeoutOf = (q: CommonQuery): number => Math.min(q.timeout != null ? parseDuration(q.timeout) : opts.defaultTimeout, opts.maxTimeout)
  const argsOf = (q: CommonQuery, name: string): string[] => {
    if (q.arg == null || q.arg.length === 0) throw new InvalidArgumentError(`argument "${name}" is required`)
    return q.arg
  }

  app.setErrorHandler((err, request, reply) => {
    const info = describeError(err)
    if (info.statusCode >= 500 && !(err instanceof StorageError)) request.log.error({ err }, 'kubo rpc request failed')
    const { statusCode, body } = kuboError(info)
    reply.code(statusCode).header('content-type', 'application/json; charset=utf-8').header('x-error-code', info.code)
    void reply.send(body)
  })
  // an unknown command: what Kubo answers (go-ipfs-cmds ErrNotFound), 404 in plain text
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).header('x-error-code', 'ERR_ROUTE_NOT_FOUND').header('content-type', 'text/plain; charset=utf-8')
      .header('x-content-type-options', 'nosniff').send(KUBO_NOT_FOUND_TEXT)
  })
  // Kubo's RPC API is POST only
  app.route({
    method: ['GET', 'PUT', 'DELETE', 'PATCH'],
    url: '/*',
    exposeHeadRoute: false,
    schema: { querystring: { type: 'object', additionalProperties: true } },
    handler: async (request, reply) => {
      reply.header('allow', 'POST')
      throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `${request.method} not allowed, use POST`)
    }
  })

  await app.register(fastifyMultipart, {
    // keep the folders in the file names (busboy keeps only the base name otherwise)
    preservePath: true,
    limits: { fileSize: Infinity, files: 1000, fields: 100, fieldSize: 64 * 1024, parts: 2000, headerPairs: 100 }
  })

  // add, get, ls, block/*, dag/get|export|import, refs, swarm/connect, swarm/addrs: kubo/*.ts
  await app.register(kuboGroups, {
    storageNode, defaultWorkspace: opts.defaultWorkspace, maxUploadBytes: opts.maxUploadBytes, defaultTimeout: opts.defaultTimeout, maxTimeout: opts.maxTimeout
  })

  app.post('/cat', {
    schema: {
      querystring: query({
        offset: { type: 'integer', minimum: 0 },
        length: { type: 'integer', minimum: 0 }
      })
    }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & { offset?: number, length?: number }
    const arg = argsOf(q, 'ipfs-path')[0]
    const cid = arg.replace(/^\/ipfs\//, '').includes('/') ? arg : parseCid(arg) // a path inside a DAG: the node resolves it
    const workspace = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const body = await readableAfterFirstChunk(workspace.cat(cid, { offset: q.offset, length: q.length, timeout: timeoutOf(q), signal }))
      .catch(notFoundOnTimeout)
    return reply.header('content-type', 'text/plain').header('x-stream-output', '1').send(body)
  })

  app.post('/pin/add', {
    schema: { querystring: query({ recursive: { type: 'boolean', default: true }, name: { type: 'string', maxLength: 255 } }) }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & { recursive: boolean, name?: string }
    if (!q.recursive) throw new InvalidArgumentError('direct (non-recursive) pins are not supported')
    const cids = argsOf(q, 'ipfs-path').map(parseCid)
    const workspace = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const timeout = timeoutOf(q)
    const pinned: string[] = []
    for (const cid of cids) {
      await workspace.pin(cid, { signal, timeout, name: q.name }).catch(notFoundOnTimeout)
      pinned.push(cid.toString())
    }
    return { Pins: pinned }
  })

  app.post('/pin/rm', {
    schema: { querystring: query({ recursive: { type: 'boolean', default: true } }) }
  }, async (request, reply) => {
    const q = request.query as CommonQuery
    const cids = argsOf(q, 'ipfs-path').map(parseCid)
    const workspace = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const removed: string[] = []
    for (const cid of cids) {
      if (!(await workspace.isPinned(cid, { signal }))) throw new NotPinnedError(`${cid.toString()}: not pinned or pinned indirectly`)
      await workspace.unpin(cid, { signal })
      removed.push(cid.toString())
    }
    return { Pins: removed }
  })

  app.post('/pin/ls', {
    schema: {
      querystring: query({
        type: { type: 'string', enum: ['all', 'recursive', 'direct', 'indirect'], default: 'all' },
        stream: { type: 'boolean', default: false },
        names: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false }
      })
    }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & { type: string, stream: boolean, names: boolean, name?: string }
    const workspace = workspaceOf(request)
    const signal = requestSignal(request, reply)
    let pins = (q.type === 'all' || q.type === 'recursive') ? await workspace.pins({ signal }) : []
    if (q.arg != null && q.arg.length > 0) {
      const wanted = q.arg.map(parseCid)
      const byCid = new Map(pins.map(p => [p.cid.toString(), p]))
      pins = wanted.map(cid => {
        const found = byCid.get(cid.toString()) ?? byCid.get(cid.toV1().toString())
        if (found == null) throw new NotPinnedError(`path '${cid.toString()}' is not pinned`)
        return found
      })
    }
    if (typeof q.name === 'string' && q.name !== '') pins = pins.filter(p => p.name === q.name)
    const entry = (p: { name?: string }): Record<string, string> => ({
      Type: 'recursive',
      ...(q.names && p.name != null ? { Name: p.name } : {})
    })
    if (q.stream) {
      reply.header('content-type', 'application/json; charset=utf-8').header('x-chunked-output', '1')
      return reply.send(pins.map(p => ndjson({ Cid: p.cid.toString(), ...entry(p) })).join(''))
    }
    const keys: Record<string, Record<string, string>> = {}
    for (const p of pins) keys[p.cid.toString()] = entry(p)
    return { Keys: keys }
  })

  app.post('/repo/stat', { schema: { querystring: query({ 'size-only': { type: 'boolean', default: false } }) } }, async (request, reply) => {
    const q = request.query as CommonQuery & { 'size-only': boolean }
    const workspace = workspaceOf(request)
    const s = await workspace.stats({ signal: requestSignal(request, reply) })
    const repoPath = `${storageNode.root}/ipfs/workspaces/${workspace.workspaceId}`
    const fin = (x: number): number => Number.isFinite(x) ? x : 0
    if (q['size-only']) return { RepoSize: fin(s.repoBytes), StorageMax: fin(s.quotaBytes) }
    return { RepoSize: fin(s.repoBytes), StorageMax: fin(s.quotaBytes), NumObjects: fin(s.blocks), RepoPath: repoPath, Version: 'fs-repo@16' }
  })

  app.post('/repo/gc', { schema: { querystring: query({ quiet: { type: 'boolean' } }) } }, async (request, reply) => {
    const workspace = workspaceOf(request)
    const result = await workspace.gc({ signal: requestSignal(request, reply) })
    // Kubo streams one {Key} line per removed block; the node reports totals only
    reply.header('content-type', 'application/json; charset=utf-8').header('x-chunked-output', '1')
      .header('x-removed-blocks', String(result.removed)).header('x-freed-bytes', String(result.freedBytes))
    return reply.send('')
  })

  app.post('/id', { schema: { querystring: query({ format: { type: 'string' } }) } }, async (request) => {
    const q = request.query as CommonQuery
    const workspace = workspaceOf(request)
    if (q.arg != null && q.arg.length > 0 && q.arg[0] !== workspace.peerId) {
      throw new InvalidArgumentError('looking up other peers is not supported')
    }
    return {
      ID: workspace.peerId,
      PublicKey: publicKeyOf(workspace.peerId, request.log),
      Addresses: workspace.multiaddrs(),
      AgentVersion: `otherthing-storage/kubo-rpc-subset ${opts.kuboVersion}`,
      Protocols: []
    }
  })

  app.post('/version', { schema: { querystring: query() } }, async () => ({
    Version: opts.kuboVersion,
    Commit: '',
    Repo: '16',
    System: `${arch}/${platform}`,
    Golang: ''
  }))

  app.post('/swarm/peers', { schema: { querystring: query({ verbose: { type: 'boolean' } }) } }, async (request) => {
    const workspace = workspaceOf(request)
    const peers = workspace.peers()
      .filter(p => p.addresses.length > 0)
      .map(p => ({
        Addr: p.addresses[0].replace(/\/p2p\/[^/]+$/, ''),
        Peer: p.peerId,
        Latency: '',
        Muxer: '',
        Direction: 0,
        Streams: null
      }))
    return { Peers: peers }
  })
}

/** Kubo's `PublicKey`: base64 of the protobuf-encoded key, recoverable from Ed25519 peer ids. */
function publicKeyOf (peerId: string, log: FastifyBaseLogger): string {
  try {
    const key = peerIdFromString(peerId).publicKey
    return key == null ? '' : Buffer.from(publicKeyToProtobuf(key)).toString('base64')
  } catch (err) {
    log.warn({ err, peerId }, 'cannot encode the public key of this peer id')
    return ''
  }
}

