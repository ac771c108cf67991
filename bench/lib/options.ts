/**
 * Command-line flags of `npm run bench`. `parseBenchArgs` is pure so the
 * smoke test can check it.
 */
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { parseByteSize } from '../../src/storage/bytes.js'

export const SCRIPT_NAMES = ['add', 'get', 'pin', 'blockstore', 'small-files', 'rss', 'orchestrator', 'orchestrator-pg'] as const
export type ScriptName = typeof SCRIPT_NAMES[number]

export interface BenchOptions {
  quick: boolean
  /** Size of the test file for add/get/pin. */
  size: number
  /** Size of the file for the peak-RSS runs (add, get, transfer). */
  rssSize: number
  /** Consecutive transfers for the stall check. */
  transfers: number
  /** Bytes per stall-check transfer (each a distinct random file). */
  transferSize: number
  /** Timeout of one transfer in ms (counted as a stall when hit). */
  transferTimeout: number
  /** Bytes of 256 KiB blocks written and read by the blockstore bench. */
  blockBytes: number
  /** Number of 4 KiB blocks written and read by the blockstore bench. */
  smallBlocks: number
  /** Number of small files and their size. */
  smallFiles: number
  smallFileSize: number
  /** Files of the one big folder (added and downloaded for peak RSS); 0 skips it. */
  bigFolder: number
  /** Simulated nodes and pins for the orchestrator bench. */
  nodes: number
  pins: number
  /** Bytes for the cipher-only measurement. */
  cipherBytes: number
  /** Parent of the temp dirs. */
  tmpDir: string
  /** Where the JSON results go. */
  outDir: string
  /** Keep temp files (for debugging). */
  keep: boolean
  /** Pass --cpu-prof to child processes, writing profiles to this dir. */
  cpuProf?: string
  /** Run child processes through tsx instead of a transpiled copy (adds ~75 MiB RSS per child). */
  tsxChildren: boolean
  /** The rss script measures add and get only (no transfer). */
  rssSkipTransfer: boolean
  /** orchestrator-pg: load pg_stat_statements and print the statements of the pin phase. */
  pgStatements: boolean
}

export interface ParsedArgs {
  scripts: ScriptName[]
  options: BenchOptions
  help: boolean
}

const DEFAULTS = {
  size: '256MiB', rssSize: '1GiB', transfers: 20, transferSize: '8MiB', transferTimeout: 60_000,
  blockBytes: '256MiB', smallBlocks: 10_000, smallFiles: 10_000, smallFileSize: '4KiB', bigFolder: 100_000,
  nodes: 1000, pins: 10_000, cipherBytes: '256MiB'
}

const QUICK = {
  size: '16MiB', rssSize: '32MiB', transfers: 3, transferSize: '1MiB', transferTimeout: 30_000,
  blockBytes: '32MiB', smallBlocks: 2000, smallFiles: 500, smallFileSize: '4KiB', bigFolder: 2000,
  nodes: 200, pins: 2000, cipherBytes: '32MiB'
}

export const USAGE = `Usage: npm run bench -- [scripts...] [flags]

Scripts (default: all): ${SCRIPT_NAMES.join(', ')}

Flags (defaults; --quick values in brackets):
  --quick                   small sizes, everything in under a minute
  --size <bytes>            file for add/get/pin           ${DEFAULTS.size} [${QUICK.size}]
  --rss-size <bytes>        file for the peak-RSS runs     ${DEFAULTS.rssSize} [${QUICK.rssSize}]
  --rss-skip-transfer       the rss script measures the idle node, add and get only
  --transfers <n>           consecutive transfers checked for stalls  ${DEFAULTS.transfers} [${QUICK.transfers}]
  --transfer-size <bytes>   size of each of those transfers ${DEFAULTS.transferSize} [${QUICK.transferSize}]
  --transfer-timeout <ms>   a transfer slower than this is a stall ${DEFAULTS.transferTimeout} [${QUICK.transferTimeout}]
  --block-bytes <bytes>     bytes of 256 KiB blocks (blockstore)   ${DEFAULTS.blockBytes} [${QUICK.blockBytes}]
  --small-blocks <n>        number of 4 KiB blocks (blockstore)    ${DEFAULTS.smallBlocks} [${QUICK.smallBlocks}]
  --small-files <n>         number of small files          ${DEFAULTS.smallFiles} [${QUICK.smallFiles}]
  --small-file-size <bytes> size of each small file        ${DEFAULTS.smallFileSize}
  --big-folder <n>          files in one folder, add / get peak RSS ${DEFAULTS.bigFolder} [${QUICK.bigFolder}] (0: skip)
  --nodes <n>               simulated orchestrator nodes   ${DEFAULTS.nodes} [${QUICK.nodes}]
  --pins <n>                pins placed by the orchestrator ${DEFAULTS.pins} [${QUICK.pins}]
  --cipher-bytes <bytes>    bytes through the ciphers      ${DEFAULTS.cipherBytes} [${QUICK.cipherBytes}]
  --tmp <dir>               parent of the temp dirs        (os.tmpdir())
  --out <dir>               JSON results directory         (bench/results)
  --keep                    keep the temp files
  --cpu-prof <dir>          run child processes with node --cpu-prof into <dir>
  --pg-statements           orchestrator-pg: print the pin phase's statements (calls,
                            time, rows, buffers per call; pg_stat_statements)
  --tsx-children            run child processes through tsx instead of a transpiled
                            copy of src/ and bench/ (tsx adds ~75 MiB RSS per process)
  -h, --help
Sizes accept units: 512MiB, 1GiB, 4KiB, 1000000.`

function count (value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${flag} must be a non-negative integer, got ${value}`)
  return n
}

function bytes (value: string | undefined, fallback: string, flag: string): number {
  try {
    return parseByteSize(value ?? fallback)
  } catch {
    throw new Error(`--${flag} must be a byte size such as 64MiB, got ${String(value)}`)
  }
}

/** Parse `process.argv.slice(2)`. Throws on unknown flags and unknown script names. */
export function parseBenchArgs (argv: string[], cwd = process.cwd()): ParsedArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      size: { type: 'string' },
      'rss-size': { type: 'string' },
      transfers: { type: 'string' },
      'transfer-size': { type: 'string' },
      'transfer-timeout': { type: 'string' },
      'block-bytes': { type: 'string' },
      'small-blocks': { type: 'string' },
      'small-files': { type: 'string' },
      'small-file-size': { type: 'string' },
      'big-folder': { type: 'string' },
      nodes: { type: 'string' },
      pins: { type: 'string' },
      'cipher-bytes': { type: 'string' },
      tmp: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      'tsx-children': { type: 'boolean', default: false },
      'rss-skip-transfer': { type: 'boolean', default: false },
      'pg-statements': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  const quick = values.quick === true
  const d = quick ? QUICK : DEFAULTS
  const scripts: ScriptName[] = []
  for (const p of positionals) {
    if (!(SCRIPT_NAMES as readonly string[]).includes(p)) {
      throw new Error(`Unknown bench script "${p}"; expected one of: ${SCRIPT_NAMES.join(', ')}`)
    }
    if (!scripts.includes(p as ScriptName)) scripts.push(p as ScriptName)
  }
  const options: BenchOptions = {
    quick,
    size: bytes(values.size, d.size, 'size'),
    rssSize: bytes(values['rss-size'], d.rssSize, 'rss-size'),
    transfers: count(values.transfers, d.transfers, 'transfers'),
    transferSize: bytes(values['transfer-size'], d.transferSize, 'transfer-size'),
    transferTimeout: count(values['transfer-timeout'], d.transferTimeout, 'transfer-timeout'),
    blockBytes: bytes(values['block-bytes'], d.blockBytes, 'block-bytes'),
    smallBlocks: count(values['small-blocks'], d.smallBlocks, 'small-blocks'),
    smallFiles: count(values['small-files'], d.smallFiles, 'small-files'),
    smallFileSize: bytes(values['small-file-size'], d.smallFileSize, 'small-file-size'),
    bigFolder: values['big-folder'] === '0' ? 0 : count(values['big-folder'], d.bigFolder, 'big-folder'),
    nodes: count(values.nodes, d.nodes, 'nodes'),
    pins: count(values.pins, d.pins, 'pins'),
    cipherBytes: bytes(values['cipher-bytes'], d.cipherBytes, 'cipher-bytes'),
    tmpDir: path.resolve(cwd, values.tmp ?? os.tmpdir()),
    outDir: path.resolve(cwd, values.out ?? 'bench/results'),
    keep: values.keep === true,
    cpuProf: values['cpu-prof'] === undefined ? undefined : path.resolve(cwd, values['cpu-prof']),
    tsxChildren: values['tsx-children'] === true,
    rssSkipTransfer: values['rss-skip-transfer'] === true,
    pgStatements: values['pg-statements'] === true
  }
  return { scripts: scripts.length === 0 ? [...SCRIPT_NAMES] : scripts, options, help: values.help === true }
}
