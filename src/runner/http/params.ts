/**
 * Request parameter helpers shared by the `/storage` routes and the Kubo RPC
 * subset: CIDs, workspaces, byte ranges, durations, and the AbortSignal tied
 * to the client's connection.
 */
import { setMaxListeners } from 'node:events'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { create as makeContentDisposition } from 'content-disposition'
import { contentType as mimeContentType, lookup as lookupMime } from 'mime-types'
import rangeParser from 'range-parser'
import type { CID } from 'multiformats/cid'
import { parseCid as parseAnyCid } from '../../util/cid.js'
import { AbortedError, InvalidArgumentError, InvalidCidError, RangeNotSatisfiableError, WorkspaceNotJoinedError } from '../../errors.js'
import type { StorageNode, WorkspaceNode } from '../../node/types.js'
import { withStatus } from './errors.js'

/**
 * Parses a CID string (see `util/cid.ts` for the bases), also accepted as
 * `/ipfs/<cid>`.
 * @throws {InvalidCidError}
 */
export function parseCid (value: string): CID {
  let s = value.trim()
  if (s.startsWith('/ipfs/')) s = s.slice('/ipfs/'.length)
  if (s.includes('/')) throw new InvalidCidError('Paths inside a DAG are not supported; give a CID')
  return parseAnyCid(s)
}

/**
 * The workspace a request is about: `?workspace=`, else the `X-Workspace`
 * header, else `defaultWorkspace`, else the only joined workspace.
 * @throws {WorkspaceNotJoinedError} 404 for a named workspace that is not joined; 400 when none is named and zero or several are joined
 */
export function resolveWorkspace (storageNode: StorageNode, request: FastifyRequest, defaultWorkspace?: string): WorkspaceNode {
  const query = request.query as { workspace?: string } | undefined
  const header = request.headers['x-workspace']
  const named = query?.workspace ?? (typeof header === 'string' && header !== '' ? header : undefined) ?? defaultWorkspace
  if (named != null) {
    return storageNode.workspace(named)
  }
  const all = storageNode.workspaces()
  if (all.length === 1) return all[0]
  throw withStatus(new WorkspaceNotJoinedError(all.length === 0
    ? 'This node has not joined any workspace'
    : 'Several workspaces are joined: name one with ?workspace=<id>'), 400)
}

/**
 * An AbortSignal that aborts when the client goes away before the response
 * is finished (connection closed during the upload or the download).
 */
export function requestSignal (request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  // the node hands this signal to many concurrent block operations
  setMaxListeners(Infinity, controller.signal)
  const res = reply.raw
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort(new AbortedError('Client disconnected'))
  }
  res.once('close', onClose)
  request.raw.once('aborted', onClose)
  return controller.signal
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number
  /** Last byte, inclusive. */
  end: number
}

/**
 * Parses a `Range` header against a content size (RFC 9110, single range),
 * with `range-parser` (the parser of Express's `send`). Returns undefined
 * when the header is absent, malformed, of another unit or asks for several
 * ranges (the whole content is then served).
 * @throws {RangeNotSatisfiableError} when the single range cannot be satisfied
 */
export function parseRange (header: string | undefined, size: number): ByteRange | undefined {
  if (header == null) return undefined
  const result = rangeParser(size, header, { combine: true })
  if (result === -2) return undefined // malformed
  if (result === -1) {
    // two places where range-parser 1.x departs from RFC 9110 (section 14.1): a suffix longer than the
    // content means the whole content, and `last < first` makes the header invalid (ignored), not unsatisfiable
    const single = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
    if (single != null && single[1] === '' && Number(single[2]) > size && size > 0) return { start: 0, end: size - 1 }
    if (single != null && single[1] !== '' && single[2] !== '' && Number(single[2]) < Number(single[1])) return undefined
    throw new RangeNotSatisfiableError()
  }
  if (result.type.trim().toLowerCase() !== 'bytes' || result.length !== 1) return undefined
  const { start, end } = result[0]
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined
  return { start, end }
}

/** Whether an `If-None-Match` header matches the entity tag `etag` (weak comparison, `*` matches). */
export function etagMatches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch == null) return false
  return ifNoneMatch.split(',').some(t => {
    const tag = t.trim().replace(/^W\//, '')
    return tag === '*' || tag === etag
  })
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Parses a Go duration (`300ms`, `1.5h`, `2m30s`) or a bare number of
 * milliseconds into milliseconds, as Kubo's `timeout` option is sent.
 * @throws {InvalidArgumentError}
 */
export function parseDuration (value: string): number {
  const s = value.trim()
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s)
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)/y
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) != null) {
    total += Number(m[1]) * GO_UNITS[m[2]]
    matched = re.lastIndex
  }
  if (matched === 0 || matched !== s.length) throw new InvalidArgumentError(`Invalid duration: ${JSON.stringify(s.slice(0, 40))}`)
  return Math.round(total)
}

/** Content-Type for a file name by extension (`mime-types`, with a charset for text); application/octet-stream when unknown or absent. */
export function contentTypeFor (filename: string | undefined): string {
  if (filename == null) return 'application/octet-stream'
  const type = lookupMime(filename)
  if (type === false) return 'application/octet-stream'
  return mimeContentType(type) || type
}

/** A `Content-Disposition: attachment` header value (`content-disposition`: an ASCII fallback and an RFC 5987 UTF-8 name when needed). */
export function contentDisposition (filename: string): string {
  return makeContentDisposition(filename, { type: 'attachment' })
}
