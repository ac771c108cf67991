/**
 * A workspace's IPFS repo on disk: its block files (blockstore-fs, behind the node's quota
 * wrapper when there is one) and its datastore (datastore-level), both under
 * `<root>/ipfs/workspaces/<id>/`. The storage node builds the stores (`createRepo` with its
 * QuotaBlockstore); a standalone workspace node uses the bare FsBlockstore.
 */
import { logger } from '@libp2p/logger'
import { LevelDatastore } from 'datastore-level'
import { createBlockLayout } from '../blockstore/block-layout.js'
import type { BlockLayout } from '../blockstore/block-layout.js'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'
import type { FsBlockstore } from 'blockstore-fs'
import type { ShardingStrategy } from 'blockstore-fs/sharding'

const log = logger('otherthing:node:repo')

/** A blockstore the repo opens and closes, and that may count its bytes. */
export interface RepoBlockstore extends Blockstore {
  open(): Promise<void>
  close(): Promise<void>
  /** Bytes stored (set by the quota wrapper). */
  readonly used?: number
}

export interface RepoDatastore extends Datastore {
  open(): Promise<void>
  close(): Promise<void>
}

/** The stores of one workspace, not yet opened. */
export interface RepoStores {
  blockstore: RepoBlockstore
  datastore: RepoDatastore
  /** The layout of the block files under `blockstore`. */
  layout: BlockLayout
}

export interface Repo extends RepoStores {
  close(): Promise<void>
}

/** Opens a workspace's repo from the stores its owner built. */
export type OpenRepo = () => Promise<Repo>

export interface RepoInit {
  /** `<repo>/blocks` */
  blocksPath: string
  /** `<repo>/datastore` */
  datastorePath: string
  /** How block files are named under `blocksPath`. @default blockstore-fs's NextToLast */
  sharding?: ShardingStrategy
  /** Wraps the raw blockstore-fs (the storage node puts its QuotaBlockstore here). @default the bare FsBlockstore */
  wrapBlockstore?: (child: FsBlockstore, layout: BlockLayout) => RepoBlockstore
}

/** Builds the stores of a repo under `blocksPath` / `datastorePath` (not opened). */
export function createRepoStores (init: RepoInit): RepoStores {
  const layout = createBlockLayout({ directory: init.blocksPath, sharding: init.sharding })
  const fs = layout.createFsBlockstore()
  return {
    layout,
    blockstore: init.wrapBlockstore?.(fs, layout) ?? fs,
    datastore: new LevelDatastore(init.datastorePath)
  }
}

/** Opens the stores (datastore first); `close()` closes both, logging what fails. */
export async function openRepo (stores: RepoStores): Promise<Repo> {
  const { blockstore, datastore } = stores
  await datastore.open()
  try {
    await blockstore.open()
  } catch (err) {
    await datastore.close().catch((closeErr) => { log.error('closing the datastore after a failed open: %e', closeErr) })
    throw err
  }
  return {
    ...stores,
    async close () {
      await blockstore.close().catch((err) => { log.error('closing the blockstore: %e', err) })
      await datastore.close().catch((err) => { log.error('closing the datastore: %e', err) })
    }
  }
}
