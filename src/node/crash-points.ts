/**
 * Test hook: `OTHERTHING_STORAGE_CRASH_AT=<point>` makes the process die with SIGKILL at that
 * point (as a power cut or `kill -9` would), so tests can prove that a restart repairs what the
 * interrupted operation left. Points: `pin-records` (a pin's block records are written, its pin
 * record is not), `unpin-records` (the pin record is deleted, its block records are not).
 */
export function crashPoint (point: string): void {
  if (process.env.OTHERTHING_STORAGE_CRASH_AT === point) process.kill(process.pid, 'SIGKILL')
}
