/**
 * How errors become HTTP responses: a status code and a stable `code` for
 * every named error of `src/errors.ts`, the `{ error: { code, message } }`
 * body of the `/storage` API and the `{ Message, Code, Type }` body of the
 * Kubo RPC subset. Unknown errors become a generic 500 without any internal
 * detail.
 */
import {
  AbortedError, ConflictError, ContentNotFoundError, DiskReserveError, ForbiddenError, InvalidArgumentError,
  InvalidCidError, InvalidConfigError, InvalidMessageError, InvalidStoragePathError, InvalidSwarmKeyError,
  InvalidWorkspaceIdError, NotFoundError, NotPinnedError, NotStartedError, QuotaExceededError,
  RangeNotSatisfiableError, StorageError, TimeoutError, UnauthorizedError, WorkspaceNotJoinedError
} from '../../errors.js'

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

/** Marks `err` to be answered with `status` instead of its class's default. Returns `err`. */
export function withStatus<E extends Error> (err: E, status: number): E {
  Object.defineProperty(err, kStatus, { value: status, enumerable: false })
  return err
}

/** Status codes of the named errors, most specific class first. */
const STATUS_BY_CLASS: Array<[abstract new (...args: any[]) => Error, number]> = [
  [InvalidCidError, 400],
  [InvalidArgumentError, 400],
  [InvalidWorkspaceIdError, 400],
  [InvalidMessageError, 400],
  [InvalidSwarmKeyError, 400],
  [InvalidConfigError, 400],
  [InvalidStoragePathError, 400],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [ContentNotFoundError, 404],
  [NotPinnedError, 404],
  [NotFoundError, 404],
  [WorkspaceNotJoinedError, 404],
  [ConflictError, 409],
  [RangeNotSatisfiableError, 416],
  [AbortedError, 499],
  [NotStartedError, 503],
  [TimeoutError, 504],
  [QuotaExceededError, 507],
  [DiskReserveError, 507]
]

/** Codes for fastify / multipart errors that carry a 4xx `statusCode`. */
const CODE_BY_STATUS: Record<number, string> = {
  400: 'ERR_INVALID_ARGUMENT',
  404: 'ERR_ROUTE_NOT_FOUND',
  405: 'ERR_METHOD_NOT_ALLOWED',
  406: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  413: 'ERR_PAYLOAD_TOO_LARGE',
  415: 'ERR_UNSUPPORTED_MEDIA_TYPE'
}

export interface HttpErrorInfo {
  statusCode: number
  code: string
  /** Safe to show: never a stack trace nor an internal message (generic for 5xx of unknown errors). */
  message: string
  /** Extra machine-readable fields (quota numbers...). */
  details?: Record<string, number>
}

/** Maps any thrown value to a status code, a stable code and a message that is safe to send. */
export function describeError (err: unknown): HttpErrorInfo {
  const e = err as any
  const override: number | undefined = e?.[kStatus]

  if (err instanceof HttpError) {
    return { statusCode: override ?? err.statusCode, code: err.code, message: err.message }
  }
  if (err instanceof StorageError) {
    const found = STATUS_BY_CLASS.find(([cls]) => err instanceof cls)
    if (found == null) {
      // a StorageError we have no status for: the code is stable, the message may be internal
      return { statusCode: override ?? 500, code: err.code, message: 'Internal error' }
    }
    const info: HttpErrorInfo = { statusCode: override ?? found[1], code: err.code, message: err.message }
    if (err instanceof QuotaExceededError) info.details = { used: err.used, limit: err.limit, requested: err.requested }
    if (err instanceof DiskReserveError) info.details = { free: err.free, reserve: err.reserve, requested: err.requested }
    return info
  }
  // DOMException / libp2p style aborts and timeouts
  if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR') {
    return { statusCode: 499, code: new AbortedError().code, message: 'Aborted' }
  }
  if (e?.name === 'TimeoutError') {
    return { statusCode: 504, code: new TimeoutError().code, message: 'Timed out' }
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

/** The JSON body of an error on the `/storage` API. */
export interface ErrorBody {
  error: { code: string, message: string } & Record<string, unknown>
}

export function errorBody (info: HttpErrorInfo): ErrorBody {
  return { error: { code: info.code, message: info.message, ...(info.details ?? {}) } }
}

/** Kubo's error codes (go-ipfs-cmds): 0 normal, 1 client error. */
export const KUBO_ERR_NORMAL = 0
export const KUBO_ERR_CLIENT = 1

/** The body of an error on the Kubo RPC prefix, exactly as Kubo shapes it. */
export interface KuboErrorBody {
  Message: string
  Code: number
  Type: 'error'
}

/**
 * Kubo answers client errors (bad arguments) with 400 / Code 1 and every other
 * failure with 500 / Code 0. Authentication, Host/Origin, method and route
 * errors keep their own HTTP status.
 */
export function kuboError (info: HttpErrorInfo): { statusCode: number, body: KuboErrorBody } {
  const s = info.statusCode
  if (s === 400 || s === 413 || s === 415 || s === 406 || s === 416) {
    return { statusCode: 400, body: { Message: info.message, Code: KUBO_ERR_CLIENT, Type: 'error' } }
  }
  if (s === 401 || s === 403 || s === 405 || info.code === 'ERR_ROUTE_NOT_FOUND') {
    return { statusCode: s, body: { Message: info.message, Code: KUBO_ERR_NORMAL, Type: 'error' } }
  }
  return { statusCode: 500, body: { Message: info.message, Code: KUBO_ERR_NORMAL, Type: 'error' } }
}
