/**
 * Map an (async) iterable through an async function with at most `concurrency` calls in
 * flight, yielding results in input order (like it-parallel-batch, but with a sliding
 * window instead of whole batches).
 *
 * Why not `it-parallel` with `{ ordered: true }` (issue #11): in it-parallel 3.0.16 on Node 20
 * the ordered mode does not bound the tasks in flight (2,000 tasks at `concurrency: 32` ran
 * ~1,980 at once; the unordered mode keeps to 32). A folder import through it started
 * thousands of files at once and held them all; test/ordered-parallel.spec.ts keeps ours
 * honest.
 */
export async function * orderedParallel<T, R> (
  source: Iterable<T> | AsyncIterable<T>,
  fn: (item: T) => Promise<R>,
  concurrency: number
): AsyncGenerator<R> {
  const window: Array<Promise<R>> = []
  try {
    for await (const item of source) {
      const p = fn(item)
      // a rejection is observed when the promise reaches the head of the window; until then keep
      // it from being reported as unhandled
      p.catch(noop)
      window.push(p)
      if (window.length >= concurrency) {
        yield await (window.shift() as Promise<R>)
      }
    }
    while (window.length > 0) {
      yield await (window.shift() as Promise<R>)
    }
  } finally {
    // let work already started finish before the generator returns (consumer stopped or error)
    await Promise.allSettled(window)
  }
}

function noop (): void {}
