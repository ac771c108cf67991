/**
 * A subset of Kubo's RPC API (`/api/v0`), shaped like Kubo so that Kubo
 * tools and `kubo-rpc-client` work unchanged: add, cat, pin/add, pin/rm,
 * pin/ls, repo/stat, repo/gc, id, version, swarm/peers. POST only, like Kubo.
 */
import { PassThrough } from 'node:stream'
import { arch, platform } from 'node:process'
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import fastifyMultipart from '@fastify/multipart'
import { peerIdFromString } from '@libp2p/peer-id'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { ContentNotFoundError, InvalidArgumentError, NotPinnedError, StorageError, TimeoutError } from '../../errors.js'
import type { AddOptions, StorageNode, WorkspaceNode } from '../../node/types.js'
import { describeError, HttpError, kuboError, KUBO_ERR_NORMAL } from './errors.js'
import { parseCid, parseDuration, requestSignal, resolveWorkspace } from './params.js'
import { readableAfterFirstChunk } from './stream.js'
import { countingSource, drainRequest } from './upload.js'

export interface KuboRoutesOptions {
  storageNode: StorageNode
  defaultWorkspace?: string
  maxUploadBytes: number
  defaultTimeout: number
  maxTimeout: number
  /** Reported by `version`. */
  kuboVersion: string
}

/** Kubo refuses chunks above 1 MiB. */
const MAX_CHUNK_SIZE = 1024 * 1024
/** Emit an add progress line at least every this many bytes. */
const PROGRESS_STEP = 256 * 1024

/** Query fields every command accepts; Kubo clients send more, which are ignored. */
const common = {
  arg: { type: 'array', items: { type: 'string', maxLength: 1024 }, maxItems: 1000 },
  workspace: { type: 'string', minLength: 1, maxLength: 128 },
  timeout: { type: 'string', maxLength: 32 }
} as const

function query (properties: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'object', properties: { ...common, ...properties }, additionalProperties: true }
}

interface CommonQuery {
  arg?: string[]
  workspace?: string
  timeout?: string
}

const ndjson = (value: unknown): string => JSON.stringify(value) + '\n'

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
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).header('x-error-code', 'ERR_ROUTE_NOT_FOUND')
      .send({ Message: `unknown command: ${request.url.split('?')[0]}`, Code: KUBO_ERR_NORMAL, Type: 'error' })
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
    limits: { fileSize: Infinity, files: 1000, fields: 100, fieldSize: 64 * 1024, parts: 2000, headerPairs: 100 }
  })

  app.post('/add', {
    schema: {
      querystring: query({
        pin: { type: 'boolean', default: true },
        'cid-version': { type: 'integer', enum: [0, 1] },
        'raw-leaves': { type: 'boolean' },
        chunker: { type: 'string', maxLength: 64 },
        progress: { type: 'boolean', default: false },
        hash: { type: 'string' },
        'only-hash': { type: 'boolean' },
        'wrap-with-directory': { type: 'boolean' },
        trickle: { type: 'boolean' },
        quiet: { type: 'boolean' },
        quieter: { type: 'boolean' },
        silent: { type: 'boolean' }
      })
    }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & {
      pin: boolean
      'cid-version'?: 0 | 1
      'raw-leaves'?: boolean
      chunker?: string
      progress: boolean
      hash?: string
      'only-hash'?: boolean
      'wrap-with-directory'?: boolean
      trickle?: boolean
      silent?: boolean
    }
    if (!request.isMultipart()) throw new HttpError(400, 'ERR_INVALID_ARGUMENT', 'add expects a multipart/form-data body')
    if (q.hash != null && q.hash !== 'sha2-256') throw new InvalidArgumentError(`hash ${q.hash} is not supported (only sha2-256)`)
    if (q['only-hash'] === true) throw new InvalidArgumentError('only-hash is not supported')
    if (q['wrap-with-directory'] === true) throw new InvalidArgumentError('wrap-with-directory is not supported')
    if (q.trickle === true) throw new InvalidArgumentError('the trickle layout is not supported')
    const signal = requestSignal(request, reply)
    const workspace = workspaceOf(request)
    const addOptions: AddOptions = { profile: 'kubo', pin: q.pin, signal }
    if (q['cid-version'] === 1) {
      addOptions.cidVersion = 1
      addOptions.rawLeaves = q['raw-leaves'] ?? true
    } else {
      if (q['cid-version'] === 0) addOptions.cidVersion = 0
      if (q['raw-leaves'] != null) addOptions.rawLeaves = q['raw-leaves']
    }
    if (q.chunker != null && q.chunker !== '') {
      const m = /^size-(\d+)$/.exec(q.chunker)
      if (m == null) throw new InvalidArgumentError(`chunker ${q.chunker} is not supported (only size-<bytes>)`)
      const chunkSize = Number(m[1])
      if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) throw new InvalidArgumentError(`chunker size must be between 1 and ${MAX_CHUNK_SIZE} bytes`)
      addOptions.chunkSize = chunkSize
    }

    // progress: answer at once and stream NDJSON lines while the upload comes in (as Kubo does)
    const out = q.progress ? new PassThrough() : undefined
    const lines: string[] = []
    const emit = (value: unknown): void => {
      if (q.silent === true) return
      if (out != null) out.write(ndjson(value))
      else lines.push(ndjson(value))
    }
    reply.header('content-type', 'application/json; charset=utf-8').header('x-chunked-output', '1')
    if (out != null) void reply.send(out)

    try {
      let files = 0
      for await (const part of request.parts()) {
        if (part.type === 'field') continue
        if (part.mimetype === 'application/x-directory') throw new InvalidArgumentError('adding directories is not supported')
        let name = ''
        try {
          name = decodeURIComponent(part.filename ?? '')
        } catch (err) {
          // Kubo clients percent-encode names; a raw name with a stray `%` is taken as is
          request.log.debug({ err }, 'file name is not percent-encoded, using it as is')
          name = part.filename ?? ''
        }
        let reported = 0
        const onBytes = out == null
          ? undefined
          : (bytes: number) => {
              if (bytes - reported >= PROGRESS_STEP) {
                reported = bytes
                emit({ Name: name, Bytes: bytes })
              }
            }
        const result = await workspace.add(countingSource(part.file, { maxBytes: opts.maxUploadBytes, signal, onBytes }), { ...addOptions, name: name !== '' ? name : undefined })
        if (out != null && reported !== result.size) emit({ Name: name, Bytes: result.size })
        const dagSize = await workspace.stat(result.cid, { offline: true, signal }).then(s => s.dagSize, () => result.size)
        const hash = result.cid.toString()
        emit({ Name: name !== '' ? name : hash, Hash: hash, Size: String(dagSize) })
        files++
      }
      if (files === 0) throw new InvalidArgumentError('no file in the multipart body')
    } catch (err) {
      drainRequest(request)
      if (out == null) {
        reply.header('connection', 'close')
        throw err
      }
      // the status line is gone: report the error in the stream, then break the response so the client fails too
      const { body } = kuboError(describeError(err))
      out.write(ndjson(body))
      out.destroy(err as Error)
      return reply
    }
    if (out != null) {
      out.end()
      return reply
    }
    return reply.send(lines.join(''))
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
    const cid = parseCid(argsOf(q, 'ipfs-path')[0])
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

function notFoundOnTimeout (err: unknown): never {
  if (err instanceof TimeoutError) throw new ContentNotFoundError('Content not found within the timeout', { cause: err })
  throw err
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

