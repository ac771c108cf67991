/**
 * Fast UnixFS import: the same CIDs as ipfs-unixfs-importer (Kubo's for the
 * 'kubo' profile), chunks hashed in worker threads, bounded writes in flight.
 */
export { importFile } from './importer.js'
export type { ImportFileOptions, ImportedFile } from './importer.js'
export { fixedSizeChunks, readFileChunks } from './chunker.js'
export { encodeLeaf, encodeParent, resolveLayout } from './layout.js'
export type { FileLayout, NodeSummary, EncodedBlock } from './layout.js'
export { createBalancedTree } from './balanced-tree.js'
export type { BalancedTree } from './balanced-tree.js'
export { layoutFor } from './options.js'
export { hashBlock, blockCidSync } from './hash.js'
export { freshLeaves } from './fresh-leaves.js'
