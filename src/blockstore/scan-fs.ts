/**
 * Usage of a blockstore-fs directory from its file sizes (`stat`, never reading a block), and
 * the clean-up of temp files interrupted writes left behind.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import type { AbortOptions } from '@libp2p/interface'

export interface ScanResult {
  /** Sum of the sizes of the block files. */
  bytes: number
  /** Number of blocks. */
  blocks: number
  /** Leftover temporary files of interrupted writes that were removed. */
  removedTempFiles: number
}

export interface ScanFsOptions extends AbortOptions {
  /** Extension of block files. @default '.data' */
  extension?: string
  /** Remove `.<name>.tmp` files left by interrupted writes (only safe when no one is writing). @default false */
  removeTempFiles?: boolean
  /** Parallel `stat` calls. @default 64 */
  concurrency?: number
}

/**
 * Sum the sizes of the block files under a blockstore-fs directory by `stat`ing them (never
 * reading them). Handles any sharding depth.
 */
export async function scanFsBlockstore (directory: string, options: ScanFsOptions = {}): Promise<ScanResult> {
  const extension = options.extension ?? '.data'
  const concurrency = options.concurrency ?? 64
  const result: ScanResult = { bytes: 0, blocks: 0, removedTempFiles: 0 }
  const dirs = [directory]
  let batch: Array<Promise<void>> = []

  const flush = async (): Promise<void> => {
    await Promise.all(batch)
    batch = []
  }

  while (dirs.length > 0) {
    options.signal?.throwIfAborted()
    const dir = dirs.pop() as string
    let entries
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true })
    } catch (err: any) {
      if (err.code === 'ENOENT') continue
      throw err
    }
    for (const entry of entries) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        dirs.push(file)
      } else if (entry.name.startsWith('.') && entry.name.endsWith('.tmp')) {
        if (options.removeTempFiles === true) {
          batch.push(fsp.rm(file, { force: true }).then(() => { result.removedTempFiles++ }))
        }
      } else if (entry.name.endsWith(extension)) {
        batch.push(fsp.stat(file).then(st => {
          result.bytes += st.size
          result.blocks++
        }, (err: any) => {
          if (err.code !== 'ENOENT') throw err
        }))
      }
      if (batch.length >= concurrency) {
        await flush()
      }
    }
  }
  await flush()
  return result
}
