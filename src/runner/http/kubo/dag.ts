/**
 * Kubo's `dag/get` (the value a CID or path names, encoded with
 * `output-codec`, dag-json by default), `dag/export` (a CARv1 of the whole
 * DAG, streamed) and `dag/import` (CAR file parts, every block checked
 * against its CID, roots pinned unless `pin-roots=false`; a failed import
 * leaves nothing counted).
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import type { FastifyInstance } from 'fastify'
import { InvalidArgumentError } from '../../../errors.js'
import { HttpError } from '../errors.js'
import { requestSignal } from '../params.js'
import { readableAfterFirstChunk } from '../stream.js'
import { countingSource, drainRequest } from '../upload.js'
import { argsOf, helpers, ndjson, notFoundOnTimeout, pathArg, query } from './common.js'
import type { CommonQuery, KuboGroupOptions } from './common.js'

/** The `output-codec`s of `dag/get` (Kubo takes any codec with an encoder; these are the IPLD ones a client decodes). */
const OUTPUT_CODECS = { 'dag-json': dagJson, 'dag-cbor': dagCbor } as const

export async function kuboDagRoutes (app: FastifyInstance, opts: KuboGroupOptions): Promise<void> {
  const { workspaceOf, timeoutOf } = helpers(opts)

  app.post('/dag/get', { schema: { querystring: query({ 'output-codec': { type: 'string', maxLength: 32, default: 'dag-json' } }) } }, async (request, reply) => {
    const q = request.query as CommonQuery & { 'output-codec': string }
    const codec = OUTPUT_CODECS[q['output-codec'] as keyof typeof OUTPUT_CODECS]
    if (codec == null) throw new InvalidArgumentError(`output-codec ${q['output-codec']} is not supported (dag-json, dag-cbor)`)
    const path = pathArg(argsOf(q, 'ref')[0])
    const signal = requestSignal(request, reply)
    const { value } = await workspaceOf(request).dagGet(path, { signal, timeout: timeoutOf(q) }).catch(notFoundOnTimeout)
    const bytes = codec.encode(value)
    // Kubo streams the encoded node as a plain reader output
    return reply.header('content-type', 'text/plain; charset=utf-8').header('x-stream-output', '1')
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  })

  app.post('/dag/export', { schema: { querystring: query({ progress: { type: 'boolean' } }) } }, async (request, reply) => {
    const q = request.query as CommonQuery
    const path = pathArg(argsOf(q, 'root')[0])
    const node = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const body = await readableAfterFirstChunk(node.exportCar(path, { signal, timeout: timeoutOf(q) })).catch(notFoundOnTimeout)
    return reply.header('content-type', 'application/vnd.ipld.car').header('x-stream-output', '1').send(body)
  })

  app.post('/dag/import', {
    schema: {
      querystring: query({
        'pin-roots': { type: 'boolean', default: true },
        stats: { type: 'boolean', default: false },
        silent: { type: 'boolean', default: false },
        'allow-big-block': { type: 'boolean' }
      })
    }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & { 'pin-roots': boolean, stats: boolean, silent: boolean }
    if (!request.isMultipart()) throw new HttpError(400, 'ERR_INVALID_ARGUMENT', 'dag/import expects a multipart/form-data body')
    const node = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const lines: string[] = []
    let blocks = 0
    let bytes = 0
    let files = 0
    try {
      for await (const part of request.parts()) {
        if (part.type === 'field') continue
        const result = await node.importCar(countingSource(part.file, { maxBytes: opts.maxUploadBytes, signal }), { pin: q['pin-roots'], signal })
        files++
        blocks += result.blocks
        bytes += result.bytes
        if (q['pin-roots'] && !q.silent) {
          for (const root of result.roots) lines.push(ndjson({ Root: { Cid: { '/': root.toString() }, PinErrorMsg: '' } }))
        }
      }
      if (files === 0) throw new InvalidArgumentError('no CAR file in the multipart body')
    } catch (err) {
      reply.header('connection', 'close')
      drainRequest(request)
      throw err
    }
    if (q.stats && !q.silent) lines.push(ndjson({ Stats: { BlockCount: blocks, BlockBytesCount: bytes } }))
    reply.header('content-type', 'application/json; charset=utf-8').header('x-chunked-output', '1')
    return reply.send(lines.join(''))
  })
}
