/**
 * A workspace's IPFS repo on disk: blockstore-fs (behind the node's quota
 * wrapper, when one is given) and datastore-level, both under
 * `<root>/ipfs/workspaces/<id>/`.
 */
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import type { Blockstore } from 'interface-blockstore'

/** A blockstore the repo opens and closes, and that may count its bytes. */
export interface RepoBlockstore extends Blockstore {
  open(): Promise<void>
  close(): Promise<void>
  /** Bytes stored (set by the quota wrapper). */
  readonly used?: number
}

/** Wraps the raw blockstore-fs, e.g. in the node's QuotaBlockstore. */
export type WrapBlockstore = (child: FsBlockstore, name: string, directory: string) => RepoBlockstore

export interface RepoInit {
  /** Name of the store (the workspace id). */
  name: string
  /** `<repo>/blocks` */
  blocksPath: string
  /** `<repo>/datastore` */
  datastorePath: string
  /** @default no wrapper: the bare FsBlockstore (no quota) */
  wrapBlockstore?: WrapBlockstore
}

export interface Repo {
  blockstore: RepoBlockstore
  datastore: LevelDatastore
  close(): Promise<void>
}

export async function openRepo (init: RepoInit): Promise<Repo> {
  const fs = new FsBlockstore(init.blocksPath)
  const blockstore: RepoBlockstore = init.wrapBlockstore?.(fs, init.name, init.blocksPath) ?? fs
  const datastore = new LevelDatastore(init.datastorePath)
  await datastore.open()
  try {
    await blockstore.open()
  } catch (err) {
    await datastore.close().catch(() => {})
    throw err
  }
  return {
    blockstore,
    datastore,
    async close () {
      await blockstore.close().catch(() => {})
      await datastore.close().catch(() => {})
    }
  }
}
