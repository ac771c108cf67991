/**
 * The folder, CAR and block operations of a workspace node as the runner's
 * HTTP routes, Kubo RPC and CLI use them (the `WorkspaceNode` contract of
 * issue #12). One place to reach them, so the surfaces never depend on
 * anything but the node's public interface.
 */
import type { CID } from 'multiformats/cid'
import { StorageError } from '../errors.js'
import type { AbortOptions, AddOptions, WorkspaceNode } from '../node/types.js'

export type CidOrPath = CID | string

export interface FolderEntry {
  path: string
  content?: AsyncIterable<Uint8Array> | Uint8Array
  mode?: number
  mtime?: { secs: bigint | number, nsecs?: number }
}

export interface FolderAddOptions extends AddOptions {
  wrapWithDirectory?: boolean
  hidden?: boolean
  symlinks?: 'store' | 'refuse'
  onEntry?: (entry: FolderAddedEntry) => void
}

export interface FolderAddedEntry {
  path: string
  cid: CID
  size: number
  type: 'file' | 'directory' | 'symlink'
}

export interface FolderListEntry {
  name: string
  path: string
  cid: CID
  size: number
  type: 'file' | 'directory' | 'symlink' | 'raw'
}

export type BlockFormat = 'dag-pb' | 'raw' | 'dag-cbor' | 'dag-json'

export interface BlockPutOptions extends AbortOptions {
  format?: BlockFormat
  mhtype?: 'sha2-256' | 'sha2-512'
  cidVersion?: 0 | 1
  pin?: boolean
}

/** The operations of issue #12 a workspace node offers. */
export interface FolderOps {
  addAll(source: Iterable<FolderEntry> | AsyncIterable<FolderEntry>, options?: FolderAddOptions): AsyncIterable<FolderAddedEntry>
  ls(cidOrPath: CidOrPath, options?: AbortOptions & { timeout?: number }): AsyncIterable<FolderListEntry>
  resolve(cidOrPath: CidOrPath, options?: AbortOptions & { timeout?: number }): Promise<{ cid: CID, remainder?: string }>
  exportCar(cidOrPath: CidOrPath, options?: AbortOptions & { timeout?: number }): AsyncIterable<Uint8Array>
  importCar(source: AsyncIterable<Uint8Array> | Uint8Array, options?: AbortOptions & { pin?: boolean }): Promise<{ roots: CID[], blocks: number, bytes: number }>
  blockGet(cid: CidOrPath, options?: AbortOptions & { timeout?: number }): Promise<Uint8Array>
  blockPut(bytes: Uint8Array, options?: BlockPutOptions): Promise<CID>
  blockStat(cid: CidOrPath, options?: AbortOptions & { timeout?: number }): Promise<{ cid: CID, size: number }>
  blockRm(cid: CidOrPath, options?: AbortOptions): Promise<void>
  refs(cidOrPath: CidOrPath, options?: AbortOptions & { recursive?: boolean, unique?: boolean, timeout?: number }): AsyncIterable<CID>
  refsLocal(options?: AbortOptions): AsyncIterable<CID>
}

export type FolderNode = WorkspaceNode & FolderOps

/** A node without the folder operations (an older library): answered as 501 by the HTTP API. */
export class FolderOpsUnavailableError extends StorageError {
  static override name = 'FolderOpsUnavailableError'
  override name = FolderOpsUnavailableError.name
  override readonly code = 'ERR_NOT_SUPPORTED'
  constructor (message = 'This node does not support folders, CAR files and blocks') {
    super(message)
  }
}

const OPS: Array<keyof FolderOps> = ['addAll', 'ls', 'resolve', 'exportCar', 'importCar', 'blockGet', 'blockPut', 'blockStat', 'blockRm', 'refs', 'refsLocal']

/** Whether the node offers the folder operations. */
export function hasFolderOps (workspace: WorkspaceNode): workspace is FolderNode {
  const node = workspace as Partial<FolderNode>
  return OPS.every(op => typeof node[op] === 'function')
}

/** The node with its folder operations. @throws {FolderOpsUnavailableError} when it has none of them */
export function folderNode (workspace: WorkspaceNode): FolderNode {
  if (!hasFolderOps(workspace)) throw new FolderOpsUnavailableError()
  return workspace
}
