/**
 * The CLI's `add` and `get`: find the node API (flags, env, or the local
 * `node-config.json`), stream the transfer, draw the progress bar, print the
 * throughput summary on stderr and the result on stdout.
 */
import { readRunningApiUrl } from './api-file.js'
import { defaultAppDataDir } from '../storage/app-data.js'
import { createStorageLayout } from '../storage/layout.js'
import { readNodeConfig } from '../storage/node-config.js'
import { InvalidArgumentError } from '../errors.js'
import { createByteProgressBar } from './progress.js'
import { downloadToFile, uploadFile } from './api-client.js'
import type { ApiTarget } from './api-client.js'

export interface TransferCommandOptions {
  api?: string
  token?: string
  workspace?: string
  storage?: string
  appData?: string
  profile?: 'kubo' | 'cidv1'
  pin?: boolean
  /** `true` forces the bar, `false` hides it, absent: when stderr is a TTY. */
  progress?: boolean
}

interface Io {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
}

/**
 * The API URL and token: `--api`/`--token` (or env `OTHERTHING_API_URL` /
 * `OTHERTHING_API_TOKEN`) win; what is missing comes from the local node's
 * `node-config.json` (in `--storage`, else the app-data folder), the URL from
 * the running node's `node-api.json` when there is one.
 *
 * @throws {InvalidArgumentError} when no API URL can be found
 */
export async function resolveApiTarget (opts: TransferCommandOptions, env: NodeJS.ProcessEnv = process.env): Promise<ApiTarget> {
  let api = opts.api ?? env.OTHERTHING_API_URL
  let token = opts.token ?? env.OTHERTHING_API_TOKEN
  if (api === undefined || token === undefined) {
    const layout = createStorageLayout(opts.storage ?? opts.appData ?? defaultAppDataDir(undefined, env))
    const config = await readNodeConfig(layout.configPath)
    if (config === undefined && api === undefined) {
      throw new InvalidArgumentError(`No node API given and no node config at ${layout.configPath}: pass --api <url> (and --token) or --storage <path>`)
    }
    api ??= await readRunningApiUrl(layout.root)
    if (config !== undefined) {
      const host = config.apiHost === '0.0.0.0' || config.apiHost === '::' ? '127.0.0.1' : config.apiHost
      api ??= `http://${host.includes(':') ? `[${host}]` : host}:${config.apiPort}`
      token ??= config.apiToken
    }
  }
  return { api: api as string, ...(token !== undefined ? { token } : {}), ...(opts.workspace !== undefined ? { workspace: opts.workspace } : {}) }
}

export async function runAddCommand (file: string, size: number, opts: TransferCommandOptions, io: Io): Promise<void> {
  const target = await resolveApiTarget(opts, io.env)
  const bar = createByteProgressBar({ stream: io.stderr, enabled: opts.progress ?? 'auto', total: size, label: 'add' })
  let result
  try {
    result = await uploadFile(target, file, {
      profile: opts.profile,
      pin: opts.pin,
      signal: io.signal,
      onProgress: ({ bytes }) => { bar.update(bytes) }
    })
  } catch (err) {
    bar.abort()
    throw err
  }
  io.stderr.write(bar.finish('uploaded') + '\n')
  io.stdout.write(result.cid + '\n')
}

export async function runGetCommand (cid: string, out: string | undefined, opts: TransferCommandOptions, io: Io): Promise<void> {
  const target = await resolveApiTarget(opts, io.env)
  const output = out ?? cid
  const bar = createByteProgressBar({ stream: io.stderr, enabled: opts.progress ?? 'auto', label: 'get' })
  try {
    await downloadToFile(target, cid, output, {
      stdout: io.stdout,
      signal: io.signal,
      onProgress: ({ bytes, total }) => { bar.update(bytes, total) }
    })
  } catch (err) {
    bar.abort()
    throw err
  }
  io.stderr.write(bar.finish('downloaded') + (output === '-' ? '' : ` to ${output}`) + '\n')
}
