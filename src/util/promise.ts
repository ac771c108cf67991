/**
 * Read-ahead without unhandled rejections. A pipeline that starts several
 * promises at once and awaits them in order (the importer's leaves, the
 * exporter's block reads) must not let a later one's rejection surface as an
 * `unhandledRejection` while an earlier one is still awaited: the rejection is
 * not lost, the in-order `await` rethrows it.
 */

/** Marks `promise` as handled; its rejection is still thrown by whoever awaits it later. */
export function awaitedLater (promise: Promise<unknown>): void {
  promise.then(undefined, observedLater)
}

function observedLater (): void {
  // the caller awaits this promise later and gets the error there
}
