/**
 * Aborts in the workspace node: one AbortedError whatever the timing (a signal already
 * aborted on entry, or aborted mid-way inside Helia, libp2p or the fs). Built on the shared
 * src/util/abort.ts; here a timeout abort from inside Helia/libp2p counts as an abort too
 * (the node's own timeouts are told apart by operationSignal, see cid.ts).
 */
import { AbortedError } from '../errors.js'
import { isAbortError as isAnyAbort, isTimeoutError, throwIfAborted } from '../util/abort.js'

export { throwIfAborted }

/** Whether `err` looks like an abort or a timeout abort, from any source. */
export function isAbortError (err: unknown): boolean {
  return isAnyAbort(err) || isTimeoutError(err)
}

/** An AbortedError for an abort `reason` (kept as `cause`; an AbortedError passes through). */
export function toAbortedError (reason: unknown, message = 'Operation aborted'): AbortedError {
  if (reason instanceof AbortedError) return reason
  return new AbortedError(message, { cause: reason })
}
