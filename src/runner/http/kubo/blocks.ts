/**
 * Kubo's `block/get|put|stat|rm`, `refs` and `refs/local`. Blocks are checked
 * against their CID by the node; a pinned block is never removed.
 */
import type { FastifyInstance } from 'fastify'
import { InvalidArgumentError, StorageError } from '../../../errors.js'
import { HttpError } from '../errors.js'
import { parseCid, requestSignal } from '../params.js'
import type { BlockPutOptions } from '../../../node/types.js'

type BlockFormat = NonNullable<BlockPutOptions['format']>
import { argsOf, helpers, ndjson, pathArg, query, withinTimeout } from './common.js'
import type { CommonQuery, KuboGroupOptions } from './common.js'

/** Kubo's largest block without --allow-big-block. */
export const MAX_BLOCK_BYTES = 2 * 1024 * 1024

/** `cid-codec` (or the older `format`) as the node names a codec. */
function formatOf (codec: string | undefined): BlockFormat {
  switch (codec ?? 'raw') {
    case 'raw': return 'raw'
    case 'dag-pb': case 'protobuf': case 'v0': return 'dag-pb'
    case 'dag-cbor': case 'cbor': return 'dag-cbor'
    case 'dag-json': return 'dag-json'
    default: throw new InvalidArgumentError(`codec ${codec ?? ''} is not supported (raw, dag-pb, dag-cbor, dag-json)`)
  }
}

export async function kuboBlockRoutes (app: FastifyInstance, opts: KuboGroupOptions): Promise<void> {
  const { workspaceOf, timeoutOf } = helpers(opts)

  app.post('/block/get', { schema: { querystring: query() } }, async (request, reply) => {
    const q = request.query as CommonQuery
    const cid = parseCid(argsOf(q, 'cid')[0])
    const timeout = timeoutOf(q)
    const bytes = await withinTimeout(requestSignal(request, reply), timeout, async (signal) => await workspaceOf(request).blockGet(cid, { signal, timeout }))
    return reply.header('content-type', 'application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  })

  app.post('/block/stat', { schema: { querystring: query() } }, async (request, reply) => {
    const q = request.query as CommonQuery
    const cid = parseCid(argsOf(q, 'cid')[0])
    const timeout = timeoutOf(q)
    const stat = await withinTimeout(requestSignal(request, reply), timeout, async (signal) => await workspaceOf(request).blockStat(cid, { signal, timeout }))
    return { Key: stat.cid.toString(), Size: stat.size }
  })

  app.post('/block/put', {
    schema: {
      querystring: query({
        'cid-codec': { type: 'string', maxLength: 32 },
        format: { type: 'string', maxLength: 32 },
        mhtype: { type: 'string', enum: ['sha2-256', 'sha2-512'] },
        mhlen: { type: 'integer' },
        version: { type: 'integer', enum: [0, 1] },
        pin: { type: 'boolean', default: false },
        'allow-big-block': { type: 'boolean' }
      })
    }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & { 'cid-codec'?: string, format?: string, mhtype?: 'sha2-256' | 'sha2-512', version?: 0 | 1, pin: boolean }
    if (!request.isMultipart()) throw new HttpError(400, 'ERR_INVALID_ARGUMENT', 'block/put expects a multipart/form-data body')
    const format = formatOf(q['cid-codec'] ?? q.format)
    const legacyV0 = q['cid-codec'] == null && (q.format === 'v0' || q.format === 'protobuf')
    const cidVersion = q.version ?? (legacyV0 ? 0 : 1)
    const node = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const lines: string[] = []
    for await (const part of request.parts()) {
      if (part.type === 'field') continue
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of part.file as AsyncIterable<Buffer>) {
        size += chunk.byteLength
        if (size > MAX_BLOCK_BYTES) throw new HttpError(413, 'ERR_PAYLOAD_TOO_LARGE', `produced block is over ${MAX_BLOCK_BYTES} bytes`)
        chunks.push(chunk)
      }
      const bytes = Buffer.concat(chunks)
      const cid = await node.blockPut(bytes, { format, mhtype: q.mhtype, cidVersion, pin: q.pin, signal })
      lines.push(ndjson({ Key: cid.toString(), Size: bytes.byteLength }))
    }
    if (lines.length === 0) throw new InvalidArgumentError('no block in the multipart body')
    reply.header('content-type', 'application/json; charset=utf-8')
    return reply.send(lines.join(''))
  })

  app.post('/block/rm', {
    schema: { querystring: query({ force: { type: 'boolean', default: false }, quiet: { type: 'boolean', default: false } }) }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & { force: boolean, quiet: boolean }
    const cids = argsOf(q, 'cid').map(parseCid)
    const node = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const lines: string[] = []
    for (const cid of cids) {
      try {
        await node.blockRm(cid, { signal })
        if (!q.quiet) lines.push(ndjson({ Hash: cid.toString() }))
      } catch (err) {
        if (!(err instanceof StorageError)) throw err
        if (q.force && err.code === 'ERR_NOT_FOUND') continue
        lines.push(ndjson({ Hash: cid.toString(), Error: err.message }))
      }
    }
    reply.header('content-type', 'application/json; charset=utf-8').header('x-chunked-output', '1')
    return reply.send(lines.join(''))
  })

  app.post('/refs', {
    schema: {
      querystring: query({
        recursive: { type: 'boolean', default: false },
        unique: { type: 'boolean', default: false },
        format: { type: 'string', maxLength: 64 },
        edges: { type: 'boolean' },
        'max-depth': { type: 'integer' }
      })
    }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & { recursive: boolean, unique: boolean, format?: string, edges?: boolean, 'max-depth'?: number }
    if (q.edges === true || (q.format != null && q.format !== '<dst>')) throw new InvalidArgumentError('only the <dst> format is supported')
    if (q['max-depth'] != null && q['max-depth'] !== -1 && !(q['max-depth'] === 1 && !q.recursive)) throw new InvalidArgumentError('max-depth is not supported')
    const node = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const timeout = timeoutOf(q)
    const lines: string[] = []
    await withinTimeout(signal, timeout, async (signal) => {
      for (const arg of argsOf(q, 'ipfs-path')) {
        for await (const ref of node.refs(pathArg(arg), { recursive: q.recursive, unique: q.unique, signal })) {
          lines.push(ndjson({ Ref: ref.toString(), Err: '' }))
        }
      }
    })
    reply.header('content-type', 'application/json; charset=utf-8').header('x-chunked-output', '1')
    return reply.send(lines.join(''))
  })

  app.post('/refs/local', { schema: { querystring: query() } }, async (request, reply) => {
    const node = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const lines: string[] = []
    for await (const ref of node.refsLocal({ signal })) lines.push(ndjson({ Ref: ref.toString(), Err: '' }))
    reply.header('content-type', 'application/json; charset=utf-8').header('x-chunked-output', '1')
    return reply.send(lines.join(''))
  })
}
