/**
 * Error answers of the admin API and the dashboard, over the project's one
 * error-to-status map (`src/util/http-errors.ts`): `{ error: { code, message } }`
 * with the right status, fastify's own errors included (bad JSON, body too
 * large, unsupported media type, unknown route); plus the path normalisation
 * the dashboard authorises on.
 */
import { describeError, errorBody as bodyOf } from '../util/http-errors.js'
import type { ErrorBody } from '../util/http-errors.js'

export type { ErrorBody }

/** The body for a code and a message (and extra numeric fields). */
export function errorBody (code: string, message: string, extra: Record<string, number> = {}): ErrorBody {
  return { error: { code, message, ...extra } }
}

/** Maps any thrown error to a status and a body (StorageError codes are kept, unknown errors are 500 ERR_INTERNAL without details). */
export function toErrorReply (err: unknown): { status: number, body: ErrorBody } {
  const info = describeError(err)
  return { status: info.statusCode, body: bodyOf(info) }
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
