/**
 * `formatBytes`, with no imports, so that any module (including one served
 * to a browser as is) can use it.
 *
 * The dashboard page keeps its own `formatBytes` in `dashboard/ui/format.ts`
 * on purpose: that file is shipped to the browser alone (no module graph) and
 * formats for a narrow table cell ('—' for an unknown size, three significant
 * digits), where this one formats for logs and the CLI (one decimal).
 */

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']

/**
 * Formats bytes with binary units and at most one decimal, dropping a `.0`.
 *
 * @example
 * ```ts
 * formatBytes(1536)           // '1.5 KiB'
 * formatBytes(10 * 2 ** 30)   // '10 GiB'
 * formatBytes(999)            // '999 B'
 * ```
 */
export function formatBytes (n: number): string {
  if (!Number.isFinite(n)) return `${n} B`
  const sign = n < 0 ? '-' : ''
  let v = Math.abs(n)
  let i = 0
  while (v >= 1024 && i < BINARY_UNITS.length - 1) { v /= 1024; i++ }
  if (i === 0) return `${sign}${Math.round(v)} B`
  let text = v.toFixed(1)
  if (text === '1024.0' && i < BINARY_UNITS.length - 1) { text = '1.0'; i++ }
  return `${sign}${text.endsWith('.0') ? text.slice(0, -2) : text} ${BINARY_UNITS[i]}`
}
