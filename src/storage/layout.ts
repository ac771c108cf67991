/**
 * Where everything lives under the storage root the user chose:
 *
 * ```
 * <storagePath>/
 * └── otherthing-storage/              root
 *     ├── ipfs/                        ipfsDir
 *     │   ├── quota-ledger.json        ledgerPath (node-wide usage ledger)
 *     │   └── workspaces/<id>/         one private repo per workspace
 *     │       ├── blocks/              content-addressed blocks
 *     │       └── datastore/           pins, peer store, metadata
 *     ├── workspace-<id>/              per-workspace scratch space
 *     │   ├── cache/                   downloaded artifacts
 *     │   └── working/                 active job scratch
 *     └── node-config.json             configPath
 * ```
 *
 * Every method that takes a workspace id validates it first, so no id can
 * escape the root.
 */
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { validateWorkspaceId, isValidWorkspaceId } from './workspace-id.js'
import { throwIfAborted } from '../util/abort.js'

/** Name of the directory created inside the user's chosen storage path. */
export const STORAGE_DIR_NAME = 'otherthing-storage'

/** The IPFS repo of one workspace: `<root>/ipfs/workspaces/<id>/{blocks,datastore}`. */
export interface WorkspaceRepoPaths {
  root: string
  blocks: string
  datastore: string
}

/** Scratch directories of one workspace: `<root>/workspace-<id>/{cache,working}`. */
export interface WorkspaceDirs {
  root: string
  cache: string
  working: string
}

export interface StorageLayout {
  /** The storage path the user chose, made absolute. */
  readonly storagePath: string
  /** `<storagePath>/otherthing-storage` */
  readonly root: string
  /** `<root>/ipfs` */
  readonly ipfsDir: string
  /** `<root>/ipfs/workspaces`: parent of every workspace repo. */
  readonly workspacesDir: string
  /** `<root>/node-config.json` */
  readonly configPath: string
  /** `<root>/ipfs/quota-ledger.json`, used by the quota blockstore. */
  readonly ledgerPath: string

  /** Paths of a workspace's IPFS repo (nothing is created). @throws InvalidWorkspaceIdError */
  workspaceRepo(id: string): WorkspaceRepoPaths
  /** Paths of a workspace's scratch dirs (nothing is created). @throws InvalidWorkspaceIdError */
  workspaceDirs(id: string): WorkspaceDirs
  /** `mkdir -p` of `root`, `ipfsDir` and `workspacesDir`. */
  ensure(options?: { signal?: AbortSignal }): Promise<void>
  /** Creates (`mkdir -p`) every directory of one workspace and returns their paths. */
  ensureWorkspace(id: string, options?: { signal?: AbortSignal }): Promise<{ repo: WorkspaceRepoPaths, dirs: WorkspaceDirs }>
  /** Ids that have a repo directory on disk, sorted. Entries that are not valid ids are ignored. */
  listWorkspaceRepos(options?: { signal?: AbortSignal }): Promise<string[]>
  /** Deletes a workspace's repo and scratch dirs (all its data). Missing dirs are not an error. */
  removeWorkspace(id: string, options?: { signal?: AbortSignal }): Promise<void>
}

class DefaultStorageLayout implements StorageLayout {
  readonly storagePath: string
  readonly root: string
  readonly ipfsDir: string
  readonly workspacesDir: string
  readonly configPath: string
  readonly ledgerPath: string

  constructor (storagePath: string) {
    this.storagePath = resolve(storagePath)
    this.root = join(this.storagePath, STORAGE_DIR_NAME)
    this.ipfsDir = join(this.root, 'ipfs')
    this.workspacesDir = join(this.ipfsDir, 'workspaces')
    this.configPath = join(this.root, 'node-config.json')
    this.ledgerPath = join(this.ipfsDir, 'quota-ledger.json')
  }

  workspaceRepo (id: string): WorkspaceRepoPaths {
    const root = join(this.workspacesDir, validateWorkspaceId(id))
    return { root, blocks: join(root, 'blocks'), datastore: join(root, 'datastore') }
  }

  workspaceDirs (id: string): WorkspaceDirs {
    const root = join(this.root, `workspace-${validateWorkspaceId(id)}`)
    return { root, cache: join(root, 'cache'), working: join(root, 'working') }
  }

  async ensure (options: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(options.signal)
    await mkdir(this.workspacesDir, { recursive: true })
  }

  async ensureWorkspace (id: string, options: { signal?: AbortSignal } = {}): Promise<{ repo: WorkspaceRepoPaths, dirs: WorkspaceDirs }> {
    const repo = this.workspaceRepo(id)
    const dirs = this.workspaceDirs(id)
    throwIfAborted(options.signal)
    for (const dir of [repo.blocks, repo.datastore, dirs.cache, dirs.working]) {
      await mkdir(dir, { recursive: true })
    }
    return { repo, dirs }
  }

  async listWorkspaceRepos (options: { signal?: AbortSignal } = {}): Promise<string[]> {
    throwIfAborted(options.signal)
    let entries
    try {
      entries = await readdir(this.workspacesDir, { withFileTypes: true })
    } catch (err: any) {
      if (err?.code === 'ENOENT') return []
      throw err
    }
    return entries
      .filter(e => e.isDirectory() && isValidWorkspaceId(e.name))
      .map(e => e.name)
      .sort()
  }

  async removeWorkspace (id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const repo = this.workspaceRepo(id)
    const dirs = this.workspaceDirs(id)
    throwIfAborted(options.signal)
    await rm(repo.root, { recursive: true, force: true, maxRetries: 3 })
    await rm(dirs.root, { recursive: true, force: true, maxRetries: 3 })
  }
}

/**
 * The layout of a storage root. Pure path arithmetic until `ensure*` or
 * `remove*` is called.
 *
 * @example
 * ```ts
 * const layout = createStorageLayout('/mnt/data')
 * await layout.ensure()
 * const { repo } = await layout.ensureWorkspace('team-alpha')
 * // repo.blocks === '/mnt/data/otherthing-storage/ipfs/workspaces/team-alpha/blocks'
 * ```
 */
export function createStorageLayout (storagePath: string): StorageLayout {
  return new DefaultStorageLayout(storagePath)
}
