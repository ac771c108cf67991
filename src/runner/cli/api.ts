/**
 * A small `fetch` client for the node API the CLI commands use: the bearer
 * token and workspace of the target on every request, and an error answer
 * turned back into the named error of `src/errors.ts`.
 */
import type { ApiTarget } from '../api-client.js'
import { apiError } from '../api-client.js'

/** `path` on the node API with `query` (undefined values left out) and the target's workspace. */
export function storageUrl (target: ApiTarget, path: string, query: Record<string, string | number | undefined> = {}): URL {
  const url = new URL(path.split('/').map(s => encodeURIComponent(decodeURIComponentSafe(s))).join('/'), target.api)
  if (target.workspace !== undefined) url.searchParams.set('workspace', target.workspace)
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v))
  return url
}

function decodeURIComponentSafe (s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

/** `fetch` with the target's token; rejects with the API's named error for a status >= 300. */
export async function apiFetch (target: ApiTarget, url: URL, init: RequestInit & { duplex?: 'half' } = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  if (target.token !== undefined) headers.set('authorization', `Bearer ${target.token}`)
  const res = await fetch(url, { ...init, headers } as RequestInit)
  if (res.status >= 300) throw apiError(res.status, await res.text())
  return res
}

/** `apiFetch` and parse the JSON answer. */
export async function apiJson<T> (target: ApiTarget, url: URL, init: RequestInit = {}): Promise<T> {
  const res = await apiFetch(target, url, init)
  return await res.json() as T
}
