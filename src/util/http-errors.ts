/**
 * The one error-to-HTTP map of otherthing-storage: a status code and a
 * stable `code` for every named error of `src/errors.ts`, for fastify's own
 * errors (validation, body limit, bad JSON, media type, URL too long) and for
 * aborts, and the `{ error: { code, message } }` body every JSON API answers
 * (the node runner's `/storage` API, the dashboard, the admin API). The Kubo
 * RPC subset reshapes the same information into Kubo's body.
 *
 * Unknown errors become a generic 500 without any internal detail.
 */
import { DiskReserveError, QuotaExceededError, StorageError } from '../errors.js'
import { isAbortError, isTimeoutError } from './abort.js'

/**
 * An error raised by the HTTP layer itself (body too large, unsupported media
 * type, unknown route...). It extends StorageError so that it passes through
 * the node's error translation unchanged when thrown inside an upload stream.
 */
export class HttpError extends StorageError {
  static override name = 'HttpError'
  override name = HttpError.name
  override readonly code: string
  readonly statusCode: number

  constructor (statusCode: number, code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.statusCode = statusCode
    this.code = code
  }
}

const kStatus = Symbol.for('otherthing-storage.http.status')

/** Marks `err` to be answered with `status` instead of its code's default. Returns `err`. */
export function withStatus<E extends Error> (err: E, status: number): E {
  Object.defineProperty(err, kStatus, { value: status, enumerable: false })
  return err
}

/** Status of every stable error code. Any other `ERR_INVALID_*` code is a 400. */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  ERR_INVALID_ARGUMENT: 400,
  ERR_INVALID_CID: 400,
  ERR_INVALID_WORKSPACE_ID: 400,
  ERR_INVALID_MESSAGE: 400,
  ERR_INVALID_SWARM_KEY: 400,
  ERR_INVALID_CONFIG: 400,
  ERR_INVALID_STORAGE_PATH: 400,
  ERR_NOT_A_DIRECTORY: 400,
  ERR_BLOCK_VERIFICATION: 400,
  ERR_SYMLINK_NOT_ALLOWED: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_NOT_PINNED: 404,
  ERR_RECORD_NOT_FOUND: 404,
  ERR_WORKSPACE_NOT_JOINED: 404,
  ERR_PATH_NOT_FOUND: 404,
  ERR_WORKSPACE_NOT_FOUND: 404,
  ERR_SWARM_KEY_NOT_FOUND: 404,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_NOT_ACCEPTABLE: 406,
  ERR_CONFLICT: 409,
  ERR_STORAGE_LOCKED: 409,
  ERR_BLOCK_PINNED: 409,
  ERR_DESTINATION: 409,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_URI_TOO_LONG: 414,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RANGE_NOT_SATISFIABLE: 416,
  ERR_ABORTED: 499,
  ERR_INTERNAL: 500,
  ERR_CORRUPT_BLOCK: 500,
  ERR_NOT_SUPPORTED: 501,
  ERR_GATEWAY_DISABLED: 501,
  ERR_NOT_STARTED: 503,
  ERR_TIMEOUT: 504,
  ERR_QUOTA_EXCEEDED: 507,
  ERR_DISK_RESERVE: 507
}

/** Codes for errors that carry only an HTTP `statusCode` (fastify, @fastify/multipart). */
const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'ERR_INVALID_ARGUMENT',
  401: 'ERR_UNAUTHORIZED',
  403: 'ERR_FORBIDDEN',
  404: 'ERR_ROUTE_NOT_FOUND',
  405: 'ERR_METHOD_NOT_ALLOWED',
  406: 'ERR_NOT_ACCEPTABLE',
  413: 'ERR_PAYLOAD_TOO_LARGE',
  414: 'ERR_URI_TOO_LONG',
  415: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  416: 'ERR_RANGE_NOT_SATISFIABLE'
}

export interface HttpErrorInfo {
  statusCode: number
  code: string
  /** Safe to show: never a stack trace nor an internal message (generic for 5xx of unknown errors). */
  message: string
  /** Extra machine-readable fields (quota numbers...). */
  details?: Record<string, number>
}

function statusOfCode (code: string): number | undefined {
  return STATUS_BY_CODE[code] ?? (code.startsWith('ERR_INVALID') ? 400 : undefined)
}

/** Maps any thrown value to a status code, a stable code and a message that is safe to send. */
export function describeError (err: unknown): HttpErrorInfo {
  const e = err as any
  const override: number | undefined = e?.[kStatus]

  if (err instanceof HttpError) {
    return { statusCode: override ?? err.statusCode, code: err.code, message: err.message }
  }
  if (err instanceof StorageError) {
    const status = statusOfCode(err.code)
    if (status == null) {
      // a StorageError we have no status for: the code is stable, the message may be internal
      return { statusCode: override ?? 500, code: err.code, message: 'Internal error' }
    }
    const info: HttpErrorInfo = { statusCode: override ?? status, code: err.code, message: err.message }
    if (err instanceof QuotaExceededError) info.details = { used: err.used, limit: err.limit, requested: err.requested }
    if (err instanceof DiskReserveError) info.details = { free: err.free, reserve: err.reserve, requested: err.requested }
    return info
  }
  // DOMException / libp2p style timeouts and aborts
  if (isTimeoutError(err)) return { statusCode: 504, code: 'ERR_TIMEOUT', message: 'Timed out' }
  if (isAbortError(err)) return { statusCode: 499, code: 'ERR_ABORTED', message: 'Aborted' }
  // Helia's errors for a valid CID whose hash or codec this node has no implementation for
  if (e?.name === 'UnknownHashAlgorithmError' || e?.name === 'UnknownCodecError') {
    return { statusCode: 501, code: 'ERR_NOT_SUPPORTED', message: String(e.message ?? 'Not supported').split('. ')[0] }
  }
  // fastify validation errors and other fastify / multipart client errors
  if (Array.isArray(e?.validation)) {
    return { statusCode: 400, code: 'ERR_INVALID_ARGUMENT', message: String(e.message ?? 'Invalid request') }
  }
  const status = Number(e?.statusCode)
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    return { statusCode: status, code: CODE_BY_STATUS[status] ?? 'ERR_INVALID_ARGUMENT', message: String(e?.message ?? 'Bad request') }
  }
  return { statusCode: 500, code: 'ERR_INTERNAL', message: 'Internal server error' }
}

/** The status code `err` is answered with. */
export function httpStatusOf (err: unknown): number {
  return describeError(err).statusCode
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string, message: string } & Record<string, unknown>
}

function isInfo (value: unknown): value is HttpErrorInfo {
  const v = value as HttpErrorInfo | null
  return v != null && !(v instanceof Error) && typeof v.statusCode === 'number' && typeof v.code === 'string' && typeof v.message === 'string'
}

/**
 * The `{ error: { code, message, ...details } }` body for a thrown value (or
 * for an {@link HttpErrorInfo} from {@link describeError}).
 */
export function errorBody (errOrInfo: unknown): ErrorBody {
  const info = isInfo(errOrInfo) ? errOrInfo : describeError(errOrInfo)
  return { error: { code: info.code, message: info.message, ...(info.details ?? {}) } }
}
