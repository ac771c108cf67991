/** Option-value parsers of the command line: a bad value is a usage error (exit code 2). */
import { InvalidArgumentError as CommanderInvalidArgument } from 'commander'
import { resolve } from 'node:path'
import { parseByteSize } from '../../storage/bytes.js'

export function parseQuota (value: string): number {
  try {
    return parseByteSize(value)
  } catch {
    throw new CommanderInvalidArgument('expected a size such as 50GB, 512MiB or 1.5TB.')
  }
}

/**
 * A folder given on the command line, made absolute against the working
 * directory (`--storage ./laptop` means `$PWD/laptop`, as in every shell
 * tool); the library itself takes absolute paths only.
 */
export function parsePath (value: string): string {
  if (value === '') throw new CommanderInvalidArgument('expected a path.')
  return resolve(value)
}

export function parsePort (value: string): number {
  const n = Number(value)
  if (!/^[0-9]+$/.test(value) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new CommanderInvalidArgument('expected a port number from 0 to 65535.')
  }
  return n
}

export function parseUrl (protocols: string[]) {
  return (value: string): string => {
    if (!URL.canParse(value)) throw new CommanderInvalidArgument('expected a URL.')
    const url = new URL(value)
    if (!protocols.includes(url.protocol)) {
      throw new CommanderInvalidArgument(`expected a ${protocols.map(p => p.replace(':', '')).join(' or ')} URL.`)
    }
    return value
  }
}

/** A repeatable URL option, kept as one comma-separated string (as `node-config.json` stores it). */
export function collectUrls (parse: (value: string) => string) {
  return (value: string, previous?: string): string => {
    const urls = value.split(',').map(v => parse(v.trim()))
    return [...(previous !== undefined ? [previous] : []), ...urls].join(',')
  }
}

export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
