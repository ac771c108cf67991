/**
 * A byte progress bar for the CLI's `add` and `get` (cli-progress), with
 * throughput in MiB/s, and the one-line summary printed when a transfer ends.
 */
import cliProgress from 'cli-progress'
import { formatBytes } from '../storage/bytes.js'

export interface ByteProgressBar {
  /** Bytes done so far (and the total, once known). */
  update(bytes: number, total?: number): void
  /** Stops the bar and returns the summary line (without a newline). */
  finish(verb: string): string
  /** Stops the bar without a summary (after a failure). Idempotent. */
  abort(): void
}

export interface ByteProgressBarInit {
  /** Where the bar is drawn. @default process.stderr */
  stream?: NodeJS.WritableStream
  /** Draw the bar. With `'auto'` it is drawn when `stream` is a TTY. @default 'auto' */
  enabled?: boolean | 'auto'
  /** Expected total in bytes, if known. */
  total?: number
  /** Shown before the bar (e.g. the file name). */
  label?: string
}

const MIB = 1024 * 1024

/** Throughput in MiB/s with two decimals. */
export function mibPerSecond (bytes: number, ms: number): string {
  return (bytes / MIB / Math.max(ms / 1000, 1e-3)).toFixed(2)
}

/**
 * Creates a progress bar; with `enabled: false` (or `'auto'` without a TTY)
 * it only measures, so {@link ByteProgressBar.finish} still gives the summary.
 *
 * @example
 * ```ts
 * const bar = createByteProgressBar({ total: size, label: 'movie.mkv' })
 * bar.update(done)
 * process.stderr.write(bar.finish('uploaded') + '\n') // 'uploaded 700 MiB in 3.2 s (218.75 MiB/s)'
 * ```
 */
export function createByteProgressBar (init: ByteProgressBarInit = {}): ByteProgressBar {
  const stream = init.stream ?? process.stderr
  const isTTY = (stream as { isTTY?: boolean }).isTTY === true
  const draw = init.enabled === 'auto' || init.enabled === undefined ? isTTY : init.enabled
  const started = performance.now()
  let done = 0
  let total = init.total ?? 0
  const payload = (): Record<string, string> => ({
    label: init.label ?? '',
    doneH: formatBytes(done),
    totalH: total > 0 ? formatBytes(total) : '?',
    speed: mibPerSecond(done, performance.now() - started)
  })
  const bar = draw
    ? new cliProgress.SingleBar({
      stream,
      format: '{label} {bar} {percentage}% | {doneH}/{totalH} | {speed} MiB/s',
      hideCursor: isTTY,
      noTTYOutput: !isTTY,
      notTTYSchedule: 1000,
      fps: 10,
      barsize: 30
    }, cliProgress.Presets.shades_classic)
    : undefined
  bar?.start(Math.max(total, 1), 0, payload())
  let stopped = false

  return {
    update (bytes, newTotal) {
      done = bytes
      if (newTotal !== undefined && newTotal !== total) {
        total = newTotal
        bar?.setTotal(Math.max(total, 1))
      }
      bar?.update(total > 0 ? Math.min(done, total) : 0, payload())
    },
    abort () {
      if (stopped) return
      stopped = true
      bar?.stop()
    },
    finish (verb) {
      if (bar !== undefined && !stopped) {
        stopped = true
        if (total === 0) bar.setTotal(Math.max(done, 1))
        bar.update(Math.max(done, 1), payload())
        bar.stop()
      }
      const ms = performance.now() - started
      return `${verb} ${formatBytes(done)} in ${(ms / 1000).toFixed(2)} s (${mibPerSecond(done, ms)} MiB/s)`
    }
  }
}
