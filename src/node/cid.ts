/**
 * CID parsing and error translation shared by the workspace node's operations.
 */
import { setMaxListeners } from 'node:events'
import { AbortedError, ContentNotFoundError, StorageError } from '../errors.js'
import { isAbortError, toAbortedError } from './abort.js'

/** Accepts a CID or its string form. @throws {InvalidCidError} */
export { parseCid as toCid } from '../util/cid.js'

/**
 * A signal that aborts when the caller's signal aborts or when `timeout` ms pass.
 * `timedOut()` tells which one happened.
 */
export interface OperationSignal {
  signal: AbortSignal
  timedOut: () => boolean
  /** Restart the timeout (for inactivity timeouts). */
  touch: () => void
  clear: () => void
}

export function operationSignal (signal?: AbortSignal, timeout?: number): OperationSignal {
  const controller = new AbortController()
  // one operation signal is shared by every concurrent block read of that operation
  setMaxListeners(Infinity, controller.signal)
  let timer: ReturnType<typeof setTimeout> | undefined
  let didTimeOut = false
  const onAbort = (): void => { controller.abort(signal?.reason) }
  if (signal != null) {
    if (signal.aborted) controller.abort(signal.reason)
    else signal.addEventListener('abort', onAbort, { once: true })
  }
  const arm = (): void => {
    if (timeout == null || !Number.isFinite(timeout) || timeout <= 0 || controller.signal.aborted) return
    if (timer != null) clearTimeout(timer)
    timer = setTimeout(() => {
      didTimeOut = true
      controller.abort(new ContentNotFoundError(`Not found within ${timeout} ms`))
    }, timeout)
    timer.unref?.()
  }
  arm()
  return {
    signal: controller.signal,
    timedOut: () => didTimeOut,
    touch: arm,
    clear: () => {
      if (timer != null) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }
}

export { isAbortError }

/**
 * Turns errors from Helia/libp2p into our named errors: our own errors pass
 * through; an abort caused by the timeout becomes ContentNotFoundError, an
 * abort by the caller AbortedError.
 */
export function translateError (err: any, op?: { timedOut: () => boolean }, callerSignal?: AbortSignal): Error {
  if (op?.timedOut() === true && !(err instanceof StorageError && !(err instanceof AbortedError) && !(err instanceof ContentNotFoundError))) {
    return err instanceof ContentNotFoundError ? err : new ContentNotFoundError('Content not found within the timeout', { cause: err })
  }
  if (err instanceof StorageError && !(err instanceof AbortedError)) return err
  if (callerSignal?.aborted === true || isAbortError(err)) return toAbortedError(err)
  if (err?.name === 'NotFoundError' || err?.name === 'BlockNotFoundWhileOfflineError' || err?.code === 'ERR_NOT_FOUND') {
    return new ContentNotFoundError('Content not found', { cause: err })
  }
  return err instanceof Error ? err : new Error(String(err))
}
