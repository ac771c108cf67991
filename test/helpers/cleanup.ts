/** For `afterAll` teardown: a failure to stop something is reported, and does not hide the test's own result. */
export function logCleanupError (err: unknown): void {
  console.warn('cleanup failed:', err)
}
