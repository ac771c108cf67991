/**
 * What the Kubo RPC command groups under `kubo/` share: their options, the
 * query schema every command accepts, NDJSON lines and argument helpers.
 */
import type { FastifyRequest } from 'fastify'
import { ContentNotFoundError, InvalidArgumentError } from '../../../errors.js'
import type { StorageNode, WorkspaceNode } from '../../../node/types.js'
import { parseDuration, resolveWorkspace } from '../params.js'
export { notFoundOnTimeout } from '../errors.js'
import { notFoundOnTimeout } from '../errors.js'

export interface KuboGroupOptions {
  storageNode: StorageNode
  defaultWorkspace?: string
  maxUploadBytes: number
  defaultTimeout: number
  maxTimeout: number
}

/** Query fields every command accepts; Kubo clients send more, which are ignored. */
const common = {
  arg: { type: 'array', items: { type: 'string', maxLength: 1024 }, maxItems: 1000 },
  workspace: { type: 'string', minLength: 1, maxLength: 128 },
  timeout: { type: 'string', maxLength: 32 }
} as const

/** The querystring schema of a command: the common fields plus `properties`. */
export function query (properties: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'object', properties: { ...common, ...properties }, additionalProperties: true }
}

export interface CommonQuery {
  arg?: string[]
  workspace?: string
  timeout?: string
}

export const ndjson = (value: unknown): string => JSON.stringify(value) + '\n'

/** `arg` values (at least one). @throws {InvalidArgumentError} */
export function argsOf (q: CommonQuery, name: string): string[] {
  if (q.arg == null || q.arg.length === 0) throw new InvalidArgumentError(`argument "${name}" is required`)
  return q.arg
}

/** A CID or path argument as the node takes it (`/ipfs/` prefix kept, the node strips it). */
export function pathArg (value: string): string {
  const s = value.trim()
  if (s === '' || s.length > 1024) throw new InvalidArgumentError('invalid path')
  if (s.startsWith('/ipns/')) throw new InvalidArgumentError('IPNS paths are not supported')
  return s
}

/** `signal`, also aborted after `timeout` ms (for node calls that take only a signal). */
export function withDeadline (signal: AbortSignal, timeout: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(timeout)])
}

/** Runs `fn` under `signal` and a `timeout` ms deadline; the deadline firing is a ContentNotFoundError (Kubo: not found). */
export async function withinTimeout<T> (signal: AbortSignal, timeout: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = AbortSignal.timeout(timeout)
  try {
    return await fn(AbortSignal.any([signal, deadline]))
  } catch (err) {
    if (deadline.aborted && !signal.aborted) throw new ContentNotFoundError('Content not found within the timeout', { cause: err })
    return notFoundOnTimeout(err)
  }
}

export interface Helpers {
  workspaceOf: (request: FastifyRequest) => WorkspaceNode
  timeoutOf: (q: CommonQuery) => number
}

export function helpers (opts: KuboGroupOptions): Helpers {
  return {
    workspaceOf: (request) => resolveWorkspace(opts.storageNode, request, opts.defaultWorkspace),
    timeoutOf: (q) => Math.min(q.timeout != null ? parseDuration(q.timeout) : opts.defaultTimeout, opts.maxTimeout)
  }
}
