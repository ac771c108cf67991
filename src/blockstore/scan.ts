import type { ScanResult } from './scan-fs.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

export { scanFsBlockstore } from './scan-fs.js'
export type { ScanResult, ScanFsOptions } from './scan-fs.js'

/** Sum block sizes of any blockstore by streaming every block (slow; for stores without a directory). */
export async function scanBlockstore (store: Pick<Blockstore, 'getAll'>, options: AbortOptions = {}): Promise<ScanResult> {
  const result: ScanResult = { bytes: 0, blocks: 0, removedTempFiles: 0 }
  for await (const pair of store.getAll(options)) {
    for await (const chunk of pair.bytes) {
      result.bytes += chunk.byteLength
    }
    result.blocks++
  }
  return result
}
