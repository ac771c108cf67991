/**
 * Kubo's `ls` (a directory's links, `{Objects:[{Hash, Links}]}`, NDJSON with
 * `stream=true`) and `get` (a tar stream of a file or a whole folder).
 */
import type { FastifyInstance } from 'fastify'
import { InvalidArgumentError } from '../../../errors.js'
import { requestSignal } from '../params.js'
import { readableAfterFirstChunk } from '../stream.js'
import { tarStream, unixfsNodeInfo } from '../tar.js'
import { argsOf, helpers, ndjson, notFoundOnTimeout, pathArg, query } from './common.js'
import type { CommonQuery, KuboGroupOptions } from './common.js'

/** Kubo's link types (UnixFS data types). */
const LINK_TYPE = { raw: 0, directory: 1, file: 2, symlink: 4 } as const

/** The last segment of a path, else the CID (the name of a `get`'s top entry, as Kubo names it). */
function nameOf (path: string, cid: string): string {
  const segments = path.replace(/^\/ipfs\//, '').split('/').filter(s => s !== '')
  return segments.length > 1 ? segments[segments.length - 1] : cid
}

export async function kuboFilesRoutes (app: FastifyInstance, opts: KuboGroupOptions): Promise<void> {
  const { workspaceOf, timeoutOf } = helpers(opts)

  app.post('/ls', {
    schema: {
      querystring: query({
        stream: { type: 'boolean', default: false },
        size: { type: 'boolean', default: true },
        'resolve-type': { type: 'boolean', default: true },
        headers: { type: 'boolean' }
      })
    }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & { stream: boolean, size: boolean }
    const node = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const timeout = timeoutOf(q)
    const objects: Array<{ Hash: string, Links: unknown[] }> = []
    const lines: string[] = []
    for (const arg of argsOf(q, 'ipfs-path')) {
      const path = pathArg(arg)
      const { cid } = await node.resolve(path, { signal, timeout }).catch(notFoundOnTimeout)
      const info = await unixfsNodeInfo(node, cid, { signal, timeout }).catch(notFoundOnTimeout)
      const links: unknown[] = []
      if (info.kind === 'directory') {
        for await (const e of node.ls(cid, { signal, timeout })) {
          const link = { Name: e.name, Hash: e.cid.toString(), Size: q.size && e.type !== 'directory' ? e.size : 0, Type: LINK_TYPE[e.type], Target: '' }
          if (q.stream) lines.push(ndjson({ Objects: [{ Hash: path, Links: [link] }] }))
          else links.push(link)
        }
      }
      if (!q.stream) objects.push({ Hash: path, Links: links })
      else if (info.kind !== 'directory') lines.push(ndjson({ Objects: [{ Hash: path, Links: [] }] }))
    }
    if (q.stream) {
      reply.header('content-type', 'application/json; charset=utf-8').header('x-chunked-output', '1')
      return reply.send(lines.join(''))
    }
    return { Objects: objects }
  })

  app.post('/get', {
    schema: {
      querystring: query({
        output: { type: 'string', maxLength: 4096 },
        archive: { type: 'boolean' },
        compress: { type: 'boolean' },
        'compression-level': { type: 'integer' }
      })
    }
  }, async (request, reply) => {
    const q = request.query as CommonQuery & { compress?: boolean }
    if (q.compress === true) throw new InvalidArgumentError('compress is not supported: get answers an uncompressed tar')
    const path = pathArg(argsOf(q, 'ipfs-path')[0])
    const node = workspaceOf(request)
    const signal = requestSignal(request, reply)
    const timeout = timeoutOf(q)
    const { cid } = await node.resolve(path, { signal, timeout }).catch(notFoundOnTimeout)
    const body = await readableAfterFirstChunk(tarStream(node, cid, nameOf(path, cid.toString()), { signal, timeout })).catch(notFoundOnTimeout)
    return reply.header('content-type', 'application/x-tar').header('x-stream-output', '1').send(body)
  })
}
