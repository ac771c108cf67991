/**
 * How errors become HTTP responses on the node runner's API. The status map
 * and the `{ error: { code, message } }` body of the `/storage` API are the
 * shared ones of `src/util/http-errors.ts` (re-exported here); this file adds
 * the `{ Message, Code, Type }` body of the Kubo RPC subset.
 */
import { ContentNotFoundError, TimeoutError } from '../../errors.js'
import type { HttpErrorInfo } from '../../util/http-errors.js'

export { HttpError, withStatus, describeError, httpStatusOf, errorBody, STATUS_BY_CODE } from '../../util/http-errors.js'
export type { HttpErrorInfo, ErrorBody } from '../../util/http-errors.js'

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
 * failure with 500 / Code 0. Authentication, Host/Origin, method, route and
 * workspace-selection errors keep their own HTTP status.
 */
export function kuboError (info: HttpErrorInfo): { statusCode: number, body: KuboErrorBody } {
  const s = info.statusCode
  if (s === 400 || s === 413 || s === 414 || s === 415 || s === 406 || s === 416) {
    return { statusCode: 400, body: { Message: info.message, Code: KUBO_ERR_CLIENT, Type: 'error' } }
  }
  // a workspace that is not joined is a 404 here as on the /storage API (Kubo has no workspaces to copy)
  if (s === 401 || s === 403 || s === 405 || info.code === 'ERR_ROUTE_NOT_FOUND' || info.code === 'ERR_WORKSPACE_NOT_JOINED') {
    return { statusCode: s, body: { Message: info.message, Code: KUBO_ERR_NORMAL, Type: 'error' } }
  }
  return { statusCode: 500, body: { Message: info.message, Code: KUBO_ERR_NORMAL, Type: 'error' } }
}

/** Turns a TimeoutError while fetching content into the 404 the APIs promise (`?timeout`: nobody had it in time). */
export function notFoundOnTimeout (err: unknown): never {
  if (err instanceof TimeoutError) throw new ContentNotFoundError('Content not found within the timeout', { cause: err })
  throw err
}
