/**
 * One kind of abort error. Node's `signal.throwIfAborted()` throws a
 * DOMException `AbortError` (numeric `code` 20) or the signal's reason;
 * libp2p and Helia throw their own `AbortError` (`code: 'ABORT_ERR'`). Our API
 * always answers an {@link AbortedError} (`code: 'ERR_ABORTED'`), whatever
 * the moment the signal fired.
 */
import type { AbortOptions } from '@libp2p/interface'
import { AbortedError, StorageError, TimeoutError } from '../errors.js'

export type { AbortOptions }

/** Whether `err` is an abort from any source (DOMException, libp2p, abort-error, ours). */
export function isAbortError (err: unknown): boolean {
  const e = err as { name?: unknown, code?: unknown } | null | undefined
  return e?.name === 'AbortError' || e?.code === 'ABORT_ERR' || e?.code === 'ERR_ABORTED' || err instanceof AbortedError
}

/** Whether `err` is a timeout abort (`AbortSignal.timeout()`'s DOMException, libp2p's TimeoutError, ours). */
export function isTimeoutError (err: unknown): boolean {
  const e = err as { name?: unknown, code?: unknown } | null | undefined
  return e?.name === 'TimeoutError' || e?.code === 'ERR_TIMEOUT' || err instanceof TimeoutError
}

/**
 * Maps abort and timeout errors to ours: any abort becomes an
 * {@link AbortedError}, a timeout abort (`AbortSignal.timeout()`) a
 * {@link TimeoutError}; a StorageError and any other error pass through
 * unchanged. The original error is kept as `cause`.
 *
 * @example
 * ```ts
 * try { await op({ signal }) } catch (err) { throw toStorageError(err) }
 * ```
 */
export function toStorageError (err: unknown): Error {
  if (err instanceof StorageError) return err
  if (isTimeoutError(err)) return new TimeoutError('Timed out', { cause: err })
  if (isAbortError(err)) return new AbortedError('Aborted', { cause: err })
  return err instanceof Error ? err : new Error(String(err))
}

/**
 * Throws an {@link AbortedError} (or {@link TimeoutError} for a timeout
 * signal) when `signal` is aborted; a StorageError reason is thrown as is.
 *
 * @throws {AbortedError}
 */
export function throwIfAborted (signal: AbortSignal | undefined): void {
  if (signal?.aborted !== true) return
  const reason: unknown = signal.reason
  if (reason instanceof StorageError) throw reason
  if (isTimeoutError(reason)) throw new TimeoutError('Timed out', { cause: reason })
  throw new AbortedError('Aborted', { cause: reason })
}
