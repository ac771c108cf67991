/**
 * Kubo's `add`: one or several files, or a folder tree (parts named with
 * their relative paths, `application/x-directory` parts for folders, as
 * `addAll` / `globSource` of `kubo-rpc-client` send them), with
 * `wrap-with-directory`. NDJSON output as Kubo's: a line per file and folder,
 * the root last, and `{Name, Bytes}` progress lines with `progress=true`.
 * A folder is added all or nothing (the node rolls back a failed add).
 */
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { Multipart } from '@fastify/multipart'
import { InvalidArgumentError } from '../../../errors.js'
import type { AddOptions } from '../../../node/types.js'
import { describeError, HttpError, kuboError } from '../errors.js'
import { folderEntries, partPath } from '../folder-upload.js'
import { requestSignal, resolveWorkspace } from '../params.js'
import { countingSource, drainRequest } from '../upload.js'
import { ndjson, query } from './common.js'
import type { CommonQuery, KuboGroupOptions } from './common.js'

/** Kubo refuses chunks above 1 MiB. */
const MAX_CHUNK_SIZE = 1024 * 1024
/** Emit an add progress line at least every this many bytes. */
const PROGRESS_STEP = 256 * 1024

interface AddQuery extends CommonQuery {
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
  hidden?: boolean
}

/** The import options a Kubo `add` query asks for. @throws {InvalidArgumentError} for what is not supported */
export function addOptionsOf (q: AddQuery): AddOptions {
  if (q.hash != null && q.hash !== 'sha2-256') throw new InvalidArgumentError(`hash ${q.hash} is not supported (only sha2-256)`)
  if (q['only-hash'] === true) throw new InvalidArgumentError('only-hash is not supported')
  if (q.trickle === true) throw new InvalidArgumentError('the trickle layout is not supported')
  const addOptions: AddOptions = { profile: 'kubo', pin: q.pin }
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
  return addOptions
}

/** `parts` with `first` put back in front. */
async function * withFirst (first: Multipart, rest: AsyncIterator<Multipart>): AsyncGenerator<Multipart> {
  yield first
  while (true) {
    const next = await rest.next()
    if (next.done === true) return
    yield next.value
  }
}

export async function kuboAddRoutes (app: FastifyInstance, opts: KuboGroupOptions): Promise<void> {
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
        hidden: { type: 'boolean' },
        quiet: { type: 'boolean' },
        quieter: { type: 'boolean' },
        silent: { type: 'boolean' }
      })
    }
  }, async (request, reply) => {
    const q = request.query as AddQuery
    if (!request.isMultipart()) throw new HttpError(400, 'ERR_INVALID_ARGUMENT', 'add expects a multipart/form-data body')
    const addOptions = addOptionsOf(q)
    const signal = requestSignal(request, reply)
    addOptions.signal = signal
    const workspace = resolveWorkspace(opts.storageNode, request, opts.defaultWorkspace)

    // progress: answer at once and stream NDJSON lines while the upload comes in (as Kubo does)
    const out = q.progress ? new PassThrough() : undefined
    const lines: string[] = []
    const emit = (value: unknown): void => {
      if (q.silent === true) return
      if (out != null) out.write(ndjson(value))
      else lines.push(ndjson(value))
    }
    const dagSizeOf = async (cid: Parameters<typeof workspace.stat>[0], fallback: number): Promise<number> =>
      await workspace.stat(cid, { offline: true, signal }).then(s => s.dagSize, () => fallback)
    reply.header('content-type', 'application/json; charset=utf-8').header('x-chunked-output', '1')
    if (out != null) void reply.send(out)

    try {
      const parts = request.parts()[Symbol.asyncIterator]()
      let first = await parts.next()
      while (first.done !== true && first.value.type === 'field') first = await parts.next()
      if (first.done === true) throw new InvalidArgumentError('no file in the multipart body')
      const named = first.value.type === 'file' && ((first.value.filename ?? '') !== '' || first.value.mimetype === 'application/x-directory')
      const tree = q['wrap-with-directory'] === true || named

      if (tree) {
        // a folder (or named files): one addAll, all or nothing
        const reported = new Map<string, number>()
        const onBytes = out == null
          ? undefined
          : (path: string, bytes: number) => {
              if (bytes - (reported.get(path) ?? 0) >= PROGRESS_STEP) {
                reported.set(path, bytes)
                emit({ Name: path, Bytes: bytes })
              }
            }
        const entries = folderEntries(withFirst(first.value, parts), { maxBytes: opts.maxUploadBytes, signal, onBytes })
        const added = workspace.addAll(entries, {
          ...addOptions,
          wrapWithDirectory: q['wrap-with-directory'] === true,
          hidden: q.hidden,
          // the parts arrive one after the other: a part's content must be read before the next one comes
          fileConcurrency: 1
        })
        for await (const entry of added) {
          if (out != null && entry.type === 'file' && reported.get(entry.path) !== entry.size) emit({ Name: entry.path, Bytes: entry.size })
          const hash = entry.cid.toString()
          emit({ Name: entry.path, Hash: hash, Size: String(entry.dagSize) })
        }
      } else {
        // loose files, one root each (kubo-rpc-client's `add(bytes)`)
        for await (const part of withFirst(first.value, parts)) {
          if (part.type === 'field') continue
          const name = (part.filename ?? '') === '' ? '' : partPath(part.filename)
          if (part.mimetype === 'application/x-directory' || name.includes('/')) throw new InvalidArgumentError('this node cannot add folders')
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
          const hash = result.cid.toString()
          emit({ Name: name !== '' ? name : hash, Hash: hash, Size: String(await dagSizeOf(result.cid, result.size)) })
        }
      }
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
}
