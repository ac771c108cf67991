/**
 * Electron IPC handlers for the seed's `ipfs-*` channels, with no Electron
 * dependency: pass Electron's `ipcMain` (or anything with the same `handle`
 * method) and a target, usually an {@link IPFSManager}.
 *
 * Every argument coming from the renderer is validated before it reaches the
 * target: a bad CID rejects with `InvalidCidError`, a bad path with
 * `InvalidArgumentError`. Handlers only ever return a promise, so nothing a
 * renderer sends can throw synchronously in the main process.
 *
 * Electron passes only an error's text to the renderer
 * (`Error invoking remote method 'ipfs-add': InvalidCidError: ...`), so the
 * error name is the part to match on there.
 */
import { isAbsolute } from 'node:path'
import { InvalidArgumentError, InvalidCidError } from '../errors.js'
import { normaliseCid } from '../util/cid.js'

/** The channels registered by {@link registerIpcHandlers}. */
export const IPC_CHANNELS = [
  'ipfs-start', 'ipfs-stop', 'ipfs-status', 'ipfs-add', 'ipfs-get', 'ipfs-pin', 'ipfs-unpin', 'ipfs-stats'
] as const

export type IpcChannel = typeof IPC_CHANNELS[number]

/** The part of Electron's `ipcMain` used here. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: unknown, ...args: any[]) => unknown): void
  /** Electron's `ipcMain.removeHandler`; used by the unregister function when present. */
  removeHandler?(channel: string): void
}

/** What `ipfs-status` returns. Plain data (structured-clone safe). */
export interface IpfsStatus {
  running: boolean
  workspaceId?: string
  peerId?: string
  /** Fingerprint of the swarm key in use (never the key). */
  keyFingerprint?: string
  multiaddrs?: string[]
  peers?: number
}

/** What `ipfs-stats` returns. Plain data. */
export interface IpfsStats {
  quotaBytes: number
  usedBytes: number
  freeBytes: number
  driveFreeBytes: number
  pins: number
  blocks: number
  peers: number
}

/** The operations behind the channels. {@link IPFSManager} implements it. */
export interface IpfsIpcTarget {
  start(): Promise<void>
  stop(): Promise<void>
  status(): IpfsStatus | Promise<IpfsStatus>
  /** Adds (and pins) a file; resolves to its CID string. */
  add(filePath: string): Promise<string>
  get(cid: string, outputPath: string): Promise<unknown>
  pin(cid: string): Promise<unknown>
  unpin(cid: string): Promise<unknown>
  stats(): Promise<IpfsStats>
}

/** The canonical string of a CID argument. @throws {InvalidCidError} */
export function validateCidArg (value: unknown): string {
  if (typeof value !== 'string') throw new InvalidCidError('Expected a CID string')
  return normaliseCid(value)
}

/** @throws {InvalidArgumentError} unless `value` is an absolute path without NUL bytes */
export function validatePathArg (value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0') || value.length > 4096) {
    throw new InvalidArgumentError(`Expected ${what} as a path string`)
  }
  if (!isAbsolute(value)) {
    throw new InvalidArgumentError(`Expected ${what} as an absolute path, got ${JSON.stringify(value.slice(0, 200))}`)
  }
  return value
}

/**
 * Registers one handler per channel of {@link IPC_CHANNELS} on `ipcMain`.
 * Returns a function that removes them again (through `removeHandler`).
 *
 * @example
 * ```ts
 * import { ipcMain } from 'electron'
 * const manager = new IPFSManager(storagePath)
 * await manager.init()
 * manager.setSwarmKey(keyFromOrchestrator, workspaceId)
 * const unregister = registerIpcHandlers(ipcMain, manager)
 * // renderer: const cid = await ipcRenderer.invoke('ipfs-add', '/home/me/file.bin')
 * ```
 */
export function registerIpcHandlers (ipcMain: IpcMainLike, target: IpfsIpcTarget): () => void {
  const handlers: Record<IpcChannel, (...args: unknown[]) => Promise<unknown>> = {
    'ipfs-start': async () => { await target.start() },
    'ipfs-stop': async () => { await target.stop() },
    'ipfs-status': async () => await target.status(),
    'ipfs-add': async (filePath) => await target.add(validatePathArg(filePath, 'the file to add')),
    'ipfs-get': async (cid, outputPath) => {
      const c = validateCidArg(cid)
      await target.get(c, validatePathArg(outputPath, 'the output path'))
    },
    'ipfs-pin': async (cid) => { await target.pin(validateCidArg(cid)) },
    'ipfs-unpin': async (cid) => { await target.unpin(validateCidArg(cid)) },
    'ipfs-stats': async () => await target.stats()
  }
  for (const channel of IPC_CHANNELS) {
    const run = handlers[channel]
    // An async listener: even a throw while validating becomes a rejected promise.
    ipcMain.handle(channel, async (_event: unknown, ...args: unknown[]) => await run(...args))
  }
  let registered = true
  return () => {
    if (!registered) return
    registered = false
    for (const channel of IPC_CHANNELS) ipcMain.removeHandler?.(channel)
  }
}
