/**
 * The CLI's content commands, all over a running node's HTTP API:
 *
 * ```
 * add <path> [-r]             a file, or a folder with -r; prints the root CID
 * get <cid[/path]> [dest]     a file, or a folder (unpacked from a tar stream)
 * ls <cid[/path]>             a directory's entries
 * pin <cid> | unpin <cid> | pins | stats | gc
 * car export <cid[/path]> [out] | car import <file>
 * ```
 *
 * Global `--timeout <duration>` (`30s`, `2m`, ms) bounds the whole command and
 * the node's fetches from peers. `get` checks its destination before any
 * byte is asked for.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join, resolve as resolvePath } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { InvalidArgumentError as CommanderInvalidArgument, Option } from 'commander'
import { DestinationError, InvalidArgumentError, StorageError, TimeoutError } from '../../errors.js'
import { formatBytes } from '../../storage/bytes.js'
import { parseDuration } from '../http/params.js'
import { createByteProgressBar } from '../progress.js'
import { resolveApiTarget, runAddCommand } from '../transfer-commands.js'
import type { TransferCommandOptions } from '../transfer-commands.js'
import type { ApiTarget } from '../api-client.js'
import { apiFetch, apiJson, storageUrl } from './api.js'
import { downloadFolder, uploadFolder } from './folder-transfer.js'
import { parsePath } from './parsers.js'

export interface ContentIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
}

interface ApiFlags extends TransferCommandOptions { timeout?: number, json?: boolean }

function apiFlags (cmd: Command): Command {
  return cmd
    .addOption(new Option('--api <url>', 'node API URL (default: from the local node-config.json)').argParser((v: string) => {
      if (!/^https?:\/\/[^/]/.test(v)) throw new CommanderInvalidArgument('expected a http or https URL.')
      return v
    }))
    .option('--token <token>', 'API bearer token (default: from the local node-config.json; or env OTHERTHING_API_TOKEN)')
    .option('-w, --workspace <id>', 'workspace (default: the node\'s only workspace)')
    .option('-s, --storage <path>', 'storage path of the local node (to find its node-config.json)', parsePath)
    .option('--app-data <dir>', 'app-data folder of the local node', parsePath)
}

/** A CID or `<cid>/path` argument, without `/ipfs/`. */
function contentPath (arg: string): string {
  const s = arg.trim().replace(/^\/ipfs\//, '').replace(/\/+$/, '')
  if (s === '' || s.startsWith('/')) throw new InvalidArgumentError(`expected a CID or CID/path, got ${JSON.stringify(arg)}`)
  return s
}

/** The signal of a command: Ctrl+C, and `--timeout` when given (a timeout becomes a TimeoutError). */
function commandSignal (io: ContentIo, timeout: number | undefined): AbortSignal | undefined {
  const signals = [io.signal, timeout != null ? AbortSignal.timeout(timeout) : undefined].filter((s): s is AbortSignal => s != null)
  return signals.length === 0 ? undefined : AbortSignal.any(signals)
}

/** Runs `fn`, turning the `--timeout` abort into a named TimeoutError. */
async function withTimeout<T> (timeout: number | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err: any) {
    const name = err?.name ?? err?.cause?.name
    if (timeout != null && name === 'TimeoutError') throw new TimeoutError(`Timed out after ${timeout} ms (--timeout)`, { cause: err })
    throw err
  }
}

/**
 * Checks where `get` will write, before anything is downloaded: the
 * destination must not be an existing folder, and its parent folder must exist.
 * @throws {DestinationError} with a message naming the path the user gave
 */
export async function checkDestination (dest: string): Promise<void> {
  const existing = await stat(dest).catch((err: any) => { if (err?.code === 'ENOENT') return undefined; throw err })
  if (existing?.isDirectory() === true) {
    throw new DestinationError(`destination ${dest} is an existing folder: give a path that does not exist yet (e.g. ${join(dest, 'name')})`)
  }
  const parent = dirname(resolvePath(dest))
  const p = await stat(parent).catch((err: any) => { if (err?.code === 'ENOENT') return undefined; throw err })
  if (p == null) throw new DestinationError(`cannot write ${dest}: the folder ${dirname(dest)} does not exist`)
  if (!p.isDirectory()) throw new DestinationError(`cannot write ${dest}: ${dirname(dest)} is not a folder`)
}

/** Streams a GET answer to `dest` through a temp file beside it, renamed when complete. */
async function downloadFile (target: ApiTarget, from: URL | Response, dest: string, options: { signal?: AbortSignal, stdout: NodeJS.WritableStream, onProgress: (bytes: number, total?: number) => void }): Promise<number> {
  const res = from instanceof URL ? await apiFetch(target, from, { signal: options.signal }) : from
  const total = res.headers.get('content-length') != null ? Number(res.headers.get('content-length')) : undefined
  let bytes = 0
  const count = new Transform({ transform (chunk: Buffer, _e, cb) { bytes += chunk.byteLength; options.onProgress(bytes, total); cb(null, chunk) } })
  const body = Readable.fromWeb(res.body as any)
  if (dest === '-') {
    await pipeline(body, count, options.stdout, { end: false, signal: options.signal })
    return bytes
  }
  const tmp = join(dirname(dest), `.${basename(dest)}.${randomBytes(4).toString('hex')}.part`)
  try {
    await pipeline(body, count, createWriteStream(tmp, { flags: 'wx' }), { signal: options.signal })
    if (total !== undefined && bytes !== total) throw new StorageError(`Download ended early: ${bytes} of ${total} bytes`)
    await rename(tmp, dest)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  return bytes
}

export function registerContentCommands (program: Command, io: ContentIo): void {
  program.addOption(new Option('--timeout <duration>', 'give up after this long, e.g. 30s or 2m (also bounds fetches from peers)').argParser((v: string) => {
    const ms = parseDuration(v)
    if (!(ms > 0)) throw new InvalidArgumentError('expected a positive duration such as 30s')
    return ms
  }))
  const globals = (cmd: Command): { timeout?: number } => cmd.optsWithGlobals() as { timeout?: number }
  const target = async (opts: ApiFlags): Promise<ApiTarget> => await resolveApiTarget(opts, io.env)
  const out = (s: string): void => { io.stdout.write(s) }

  apiFlags(program.command('add')
    .description('upload a file, or a folder with -r, to a running node; prints the root CID')
    .argument('<path>', 'file or folder to upload')
    .option('-r, --recursive', 'upload a folder and everything in it')
    .option('-H, --hidden', 'include files and folders whose name starts with a dot')
    .option('--wrap-with-directory', 'wrap the upload in a directory (the root is that directory)')
    .addOption(new Option('--profile <profile>', 'CID profile').choices(['kubo', 'cidv1']))
    .option('--no-pin', 'do not pin')
    .option('--progress', 'draw the progress bar even when stderr is not a terminal')
    .option('--no-progress', 'no progress bar'))
    .action(async (path: string, opts: ApiFlags & { recursive?: boolean, hidden?: boolean, wrapWithDirectory?: boolean }, cmd: Command) => {
      const s = await stat(path).catch((err: any) => { throw new InvalidArgumentError(err?.code === 'ENOENT' ? `no such file or folder: ${path}` : `cannot read ${path}: ${err?.code ?? err?.message}`) })
      const { timeout } = globals(cmd)
      const signal = commandSignal(io, timeout)
      if (s.isFile()) {
        await withTimeout(timeout, async () => { await runAddCommand(path, s.size, opts, { ...io, signal }) })
        return
      }
      if (!s.isDirectory()) throw new InvalidArgumentError(`not a regular file or folder: ${path}`)
      if (opts.recursive !== true) throw new InvalidArgumentError(`${path} is a folder: add it with -r`)
      const bar = createByteProgressBar({ stream: io.stderr, enabled: opts.progress ?? 'auto', label: 'add' })
      try {
        const result = await withTimeout(timeout, async () => await uploadFolder(await target(opts), path, {
          profile: opts.profile,
          pin: opts.pin,
          hidden: opts.hidden,
          wrap: opts.wrapWithDirectory,
          signal,
          onProgress: ({ bytes, total }) => { bar.update(bytes, total) },
          onSkip: (p, why) => { io.stderr.write(`skipped ${p} (${why})\n`) }
        }))
        io.stderr.write(`${bar.finish('uploaded')} (${result.entries} files and folders)\n`)
        out(result.cid + '\n')
      } catch (err) {
        bar.abort()
        throw err
      }
    })

  apiFlags(program.command('get')
    .description('download a file or a folder from a running node (to [dest], default ./<name>; "-" for stdout)')
    .argument('<cid>', 'CID, or CID/path inside a folder')
    .argument('[dest]', 'where to write it (must not be an existing folder)')
    .option('--progress', 'draw the progress bar even when stderr is not a terminal')
    .option('--no-progress', 'no progress bar'))
    .action(async (arg: string, dest: string | undefined, opts: ApiFlags, cmd: Command) => {
      const path = contentPath(arg)
      const output = dest ?? path.split('/').pop() as string
      if (output !== '-') await checkDestination(output)
      const { timeout } = globals(cmd)
      const signal = commandSignal(io, timeout)
      const t = await target(opts)
      const bar = createByteProgressBar({ stream: io.stderr, enabled: opts.progress ?? 'auto', label: 'get' })
      try {
        await withTimeout(timeout, async () => {
          // a file answers its content, a directory its listing (then fetched again as a tar stream)
          const res = await apiFetch(t, storageUrl(t, `/storage/${path}`, { timeout }), { signal })
          if (res.headers.get('x-unixfs-type') === 'directory') {
            await res.body?.cancel()
            if (output === '-') {
              await downloadFile(t, storageUrl(t, `/storage/${path}`, { format: 'tar', timeout }), '-', { signal, stdout: io.stdout, onProgress: (b) => { bar.update(b) } })
            } else {
              await downloadFolder(t, path, output, { timeout, signal, onProgress: ({ bytes }) => { bar.update(bytes) } })
            }
          } else {
            await downloadFile(t, res, output, { signal, stdout: io.stdout, onProgress: (b, total) => { bar.update(b, total) } })
          }
        })
      } catch (err) {
        bar.abort()
        throw err
      }
      io.stderr.write(bar.finish('downloaded') + (output === '-' ? '' : ` to ${output}`) + '\n')
    })

  apiFlags(program.command('ls')
    .description('list a directory: CID, size and name of each entry (folders end with /)')
    .argument('<cid>', 'CID, or CID/path of a folder')
    .option('--json', 'print JSON'))
    .action(async (arg: string, opts: ApiFlags, cmd: Command) => {
      const { timeout } = globals(cmd)
      const t = await target(opts)
      const listing = await withTimeout(timeout, async () => await apiJson<{ type?: string, entries?: Array<{ name: string, cid: string, size: number, type: string }> }>(t,
        storageUrl(t, `/storage/${contentPath(arg)}`, { timeout }), { headers: { accept: 'application/json' }, signal: commandSignal(io, timeout) }))
      if (listing.type !== 'directory' || listing.entries == null) throw new InvalidArgumentError(`${arg} is not a folder`)
      if (opts.json === true) { out(JSON.stringify(listing.entries, null, 2) + '\n'); return }
      for (const e of listing.entries) out(`${e.cid} ${e.type === 'directory' ? '-' : String(e.size)} ${e.name}${e.type === 'directory' ? '/' : ''}\n`)
    })

  apiFlags(program.command('pin')
    .description('pin content (fetched from the workspace\'s peers when missing)')
    .argument('<cid>', 'CID to pin')
    .option('--name <name>', 'a name recorded with the pin'))
    .action(async (cid: string, opts: ApiFlags & { name?: string }, cmd: Command) => {
      const { timeout } = globals(cmd)
      const t = await target(opts)
      const res = await withTimeout(timeout, async () => await apiJson<{ cid: string, size: number, alreadyPinned?: boolean }>(t, storageUrl(t, '/storage/pin'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cid: contentPath(cid), ...(opts.name != null ? { name: opts.name } : {}), ...(timeout != null ? { timeout } : {}) }),
        signal: commandSignal(io, timeout)
      }))
      out(`pinned ${res.cid} (${formatBytes(res.size)})${res.alreadyPinned === true ? ', already pinned' : ''}\n`)
    })

  apiFlags(program.command('unpin')
    .description('unpin content and collect its blocks')
    .argument('<cid>', 'CID to unpin')
    .option('--no-gc', 'keep the blocks until the next gc'))
    .action(async (cid: string, opts: ApiFlags & { gc: boolean }, cmd: Command) => {
      const { timeout } = globals(cmd)
      const t = await target(opts)
      const res = await withTimeout(timeout, async () => await apiJson<{ cid: string, freedBytes: number }>(t, storageUrl(t, `/storage/${contentPath(cid)}`, { gc: String(opts.gc) }), { method: 'DELETE', signal: commandSignal(io, timeout) }))
      out(`unpinned ${res.cid}${opts.gc ? `, freed ${formatBytes(res.freedBytes)}` : ''}\n`)
    })

  apiFlags(program.command('pins')
    .description('list the pins of the workspace')
    .option('--json', 'print JSON'))
    .action(async (opts: ApiFlags, cmd: Command) => {
      const { timeout } = globals(cmd)
      const t = await target(opts)
      const res = await withTimeout(timeout, async () => await apiJson<{ pins: Array<{ cid: string, size: number, name?: string }> }>(t, storageUrl(t, '/storage/pins'), { signal: commandSignal(io, timeout) }))
      if (opts.json === true) { out(JSON.stringify(res.pins, null, 2) + '\n'); return }
      for (const p of res.pins) out(`${p.cid}  ${formatBytes(p.size).padStart(10)}  ${p.name ?? ''}`.trimEnd() + '\n')
    })

  apiFlags(program.command('stats')
    .description('quota, usage and pins of the node and each workspace')
    .option('--json', 'print JSON'))
    .action(async (opts: ApiFlags, cmd: Command) => {
      const { timeout } = globals(cmd)
      const t = await target(opts)
      const s = await withTimeout(timeout, async () => await apiJson<{ quota: number | null, used: number | null, free: number | null, workspaces: Array<{ workspace: string, used: number | null, blocks: number | null, pins: number | null, peers: number | null }> }>(t, storageUrl(t, '/storage/stats'), { signal: commandSignal(io, timeout) }))
      if (opts.json === true) { out(JSON.stringify(s, null, 2) + '\n'); return }
      const b = (n: number | null): string => n == null ? 'unlimited' : formatBytes(n)
      out(`quota ${b(s.quota)}, used ${b(s.used)}, free ${b(s.free)}\n`)
      for (const w of s.workspaces) out(`${w.workspace}: ${b(w.used)} in ${w.blocks ?? 0} blocks, ${w.pins ?? 0} pins, ${w.peers ?? 0} peers\n`)
    })

  apiFlags(program.command('gc')
    .description('remove the blocks no pin holds'))
    .action(async (opts: ApiFlags, cmd: Command) => {
      const { timeout } = globals(cmd)
      const t = await target(opts)
      const res = await withTimeout(timeout, async () => await apiFetch(t, storageUrl(t, '/api/v0/repo/gc'), { method: 'POST', signal: commandSignal(io, timeout) }))
      await res.arrayBuffer()
      out(`removed ${res.headers.get('x-removed-blocks') ?? '0'} blocks, freed ${formatBytes(Number(res.headers.get('x-freed-bytes') ?? 0))}\n`)
    })

  const car = program.command('car').description('CAR files: export a DAG, import one')
  apiFlags(car.command('export')
    .description('write the whole DAG of a CID as a CARv1 file (to [out], default ./<cid>.car; "-" for stdout)')
    .argument('<cid>', 'CID, or CID/path')
    .argument('[out]', 'output file'))
    .action(async (arg: string, dest: string | undefined, opts: ApiFlags, cmd: Command) => {
      const path = contentPath(arg)
      const output = dest ?? `${path.split('/').pop() as string}.car`
      if (output !== '-') await checkDestination(output)
      const { timeout } = globals(cmd)
      const t = await target(opts)
      const bytes = await withTimeout(timeout, async () => await downloadFile(t, storageUrl(t, `/storage/${path}`, { format: 'car', timeout }), output, { signal: commandSignal(io, timeout), stdout: io.stdout, onProgress: () => {} }))
      io.stderr.write(`exported ${formatBytes(bytes)}${output === '-' ? '' : ` to ${output}`}\n`)
    })
  apiFlags(car.command('import')
    .description('import a CAR file (every block checked against its CID), pin its roots; prints them')
    .argument('<file>', 'CAR file')
    .option('--no-pin', 'do not pin the roots'))
    .action(async (file: string, opts: ApiFlags, cmd: Command) => {
      const s = await stat(file).catch(() => undefined)
      if (s?.isFile() !== true) throw new InvalidArgumentError(`not a regular file: ${file}`)
      const { timeout } = globals(cmd)
      const t = await target(opts)
      const res = await withTimeout(timeout, async () => await apiJson<{ roots: string[], blocks: number, bytes: number }>(t, storageUrl(t, '/storage/car', { pin: opts.pin === false ? 'false' : undefined }), {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.ipld.car', 'content-length': String(s.size) },
        body: Readable.toWeb(createReadStream(file)) as ReadableStream,
        duplex: 'half',
        signal: commandSignal(io, timeout)
      } as RequestInit))
      io.stderr.write(`imported ${res.blocks} blocks (${formatBytes(res.bytes)})\n`)
      for (const r of res.roots) out(r + '\n')
    })
}
