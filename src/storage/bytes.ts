/**
 * Byte sizes for people: parse `'50GB'`, `'512MiB'`, `'1.5 TB'`, format
 * `1610612736` as `'1.5 GiB'`.
 *
 * Units (case-insensitive, optional space between number and unit):
 * - decimal (SI), powers of 1000: `B`, `KB`/`K`, `MB`/`M`, `GB`/`G`, `TB`/`T`, `PB`/`P`
 * - binary (IEC), powers of 1024: `KiB`, `MiB`, `GiB`, `TiB`, `PiB`
 *
 * So `'1GB'` is 1 000 000 000 bytes and `'1GiB'` is 1 073 741 824 bytes, as
 * on drive labels and in `df -H` vs `df -h`. A bare number is bytes.
 * Fractions are rounded down to a whole byte.
 */
import { InvalidArgumentError } from '../errors.js'

const UNITS: Record<string, number> = {
  b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, p: 1e15, pb: 1e15,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, pib: 2 ** 50
}

const SIZE_PATTERN = /^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([a-z]*)$/i

/**
 * Parses a byte size. Numbers are taken as bytes and must be non-negative
 * safe integers.
 *
 * @throws {InvalidArgumentError} for anything else (`'abc'`, `'-1GB'`, `'5 XB'`, `NaN`, sizes above 2^53 - 1)
 * @example
 * ```ts
 * parseByteSize('50GB')    // 50_000_000_000
 * parseByteSize('512MiB')  // 536_870_912
 * parseByteSize('1.5 TB')  // 1_500_000_000_000
 * parseByteSize(1024)      // 1024
 * ```
 */
export function parseByteSize (value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(`Invalid byte size ${String(value)}: must be a non-negative whole number of bytes`)
    }
    return value
  }
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`Invalid byte size: expected a string or number, got ${typeof value}`)
  }
  const match = SIZE_PATTERN.exec(value.trim())
  const multiplier = match === null ? undefined : UNITS[(match[2] === '' ? 'b' : match[2]).toLowerCase()]
  if (match === null || multiplier === undefined) {
    throw new InvalidArgumentError(`Invalid byte size ${JSON.stringify(value)}: expected a number with an optional unit such as 50GB, 512MiB or 1.5 TB`)
  }
  const bytes = Math.floor(Number(match[1]) * multiplier)
  if (!Number.isSafeInteger(bytes)) {
    throw new InvalidArgumentError(`Invalid byte size ${JSON.stringify(value)}: too large`)
  }
  return bytes
}

/** Formatting lives with the other shared primitives (no imports there, so a browser module can use it). */
export { formatBytes } from '../util/format-bytes.js'
