/**
 * Error-to-HTTP for the admin API and the dashboard: one table, one body
 * shape `{ error: { code, message } }`, fastify's own errors included (bad
 * JSON, body too large, unsupported media type, unknown route).
 * (The runner's table lives in src/runner/http/errors.ts; issue #11 merges them.)
 */
import { QuotaExceededError, StorageError } from '../errors.js'

/** Status of each StorageError code (codes starting with ERR_INVALID are 400, others 500). */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_RECORD_NOT_FOUND: 404,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_NOT_FOUND: 404,
  ERR_WORKSPACE_NOT_JOINED: 404,
  ERR_NOT_PINNED: 404,
  ERR_CONFLICT: 409,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_QUOTA_EXCEEDED: 507,
  ERR_DISK_RESERVE: 507,
  ERR_TIMEOUT: 504,
  ERR_ABORTED: 499,
  ERR_NOT_STARTED: 503,
  ERR_GATEWAY_DISABLED: 501,
  ERR_NOT_SUPPORTED: 501
}

/** Codes of fastify's own 4xx errors (they carry a `statusCode`). */
const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'ERR_INVALID_ARGUMENT',
  404: 'ERR_ROUTE_NOT_FOUND',
  405: 'ERR_METHOD_NOT_ALLOWED',
  406: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  413: 'ERR_PAYLOAD_TOO_LARGE',
  414: 'ERR_URI_TOO_LONG',
  415: 'ERR_UNSUPPORTED_MEDIA_TYPE'
}

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: string, message: string, used?: number, limit?: number, requested?: number }
}

export function errorBody (code: string, message: string, extra: Record<string, number> = {}): ErrorBody {
  return { error: { code, message, ...extra } }
}

/** Maps any thrown error to a status and a body (StorageError codes are kept, unknown errors are 500 ERR_INTERNAL without details). */
export function toErrorReply (err: any): { status: number, body: ErrorBody } {
  if (err?.validation != null) return { status: 400, body: errorBody('ERR_INVALID_ARGUMENT', String(err.message)) }
  if (err instanceof QuotaExceededError) {
    return { status: 507, body: errorBody(err.code, err.message, { used: err.used, limit: err.limit, requested: err.requested }) }
  }
  if (err instanceof StorageError) {
    const status = STATUS_BY_CODE[err.code] ?? (err.code.startsWith('ERR_INVALID') ? 400 : 500)
    return { status, body: errorBody(err.code, err.message) }
  }
  if (typeof err?.code === 'string' && STATUS_BY_CODE[err.code] != null) {
    return { status: STATUS_BY_CODE[err.code], body: errorBody(err.code, String(err.message)) }
  }
  if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, body: errorBody(CODE_BY_STATUS[err.statusCode] ?? 'ERR_INVALID_ARGUMENT', String(err.message)) }
  }
  return { status: 500, body: errorBody('ERR_INTERNAL', 'Internal error') }
}

/** Percent-decodes and normalises a request path (`//`, `/./`, `../`, trailing `/`) for authorisation; `undefined` when it does not decode. */
export function normalisePath (url: string): string | undefined {
  let path = url.split('?')[0]
  try {
    // decode until stable: %2561 -> %61 -> a
    for (let i = 0; i < 4; i++) {
      const next = decodeURIComponent(path)
      if (next === path) break
      path = next
    }
  } catch {
    return undefined // malformed escapes: the caller refuses the request
  }
  const out: string[] = []
  for (const part of path.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') out.pop()
    else out.push(part)
  }
  return '/' + out.join('/').toLowerCase()
}
