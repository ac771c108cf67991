/**
 * The dashboard's JSON API as the page sees it: the shapes it answers, and
 * `api()`, a fetch with the session cookie that throws an {@link ApiError}
 * carrying the server's `{ error: { code, message } }`.
 */
import { describeError } from './format.js'
import type { ApiErrorBody } from './format.js'
import { apiBase } from './dom.js'

export interface Storage { used: number, quota: number, free: number, reportedAt?: number, driveFree?: number | null }
export interface Allocation { nodeId: string, state: string, error: { code: string, message: string } | null }
export interface Pin {
  cid: string, name: string | null, size: number | null, replicationMin: number, replicationMax: number,
  copies: number, wanted: number, status: string, allocations: Allocation[]
}
export interface Member { id: string, name: string, online: boolean, lastSeen: number | null, peerId: string | null, storage: Storage | null, pins: number }
export interface Status {
  workspace: { id: string, name: string }
  nodes: Member[]
  nodesOnline: number
  storage: { used: number, quota: number, free: number }
  pins: Pin[]
  gateway: boolean
}
export interface NodeView { node: Member, pins: Array<Pin & { state: string, error: { code: string, message: string } | null }> }
export interface Session { role: string, workspaces: Array<{ id: string, name: string }> }

export class ApiError extends Error {
  constructor (readonly status: number, readonly body: ApiErrorBody | undefined) {
    super(describeError(body, status))
  }
}

/** A JSON request to `<api>/<path>`. @throws {ApiError} for an error answer */
export async function api<T> (method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} }
  if (body !== undefined) {
    init.body = JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
  }
  const res = await fetch(apiBase + path, init)
  const text = await res.text()
  const data = text === '' ? undefined : JSON.parse(text)
  if (!res.ok) throw new ApiError(res.status, data?.error)
  return data as T
}

/** `/workspaces/<ws>` followed by `rest` segments, each URL-encoded. */
export function workspacePath (ws: string, ...rest: string[]): string {
  return '/workspaces/' + [ws, ...rest].map(encodeURIComponent).join('/')
}
