/**
 * Iterator helpers shared by the node and the runner.
 */

/**
 * Yields `head`, then the rest of `it`; closes `it` (its `return()`) when the consumer stops early
 * or fails, so the producer behind it stops too.
 */
export async function * prependTo<T> (head: Iterable<T>, it: Iterator<T> | AsyncIterator<T>): AsyncGenerator<T> {
  try {
    yield * head
    while (true) {
      const r = await it.next()
      if (r.done === true) return
      yield r.value
    }
  } finally {
    await it.return?.()
  }
}
