/**
 * Fast UnixFS export: files streamed in order with bounded read ahead, local
 * blocks read straight from disk, written to files with backpressure.
 */
export { createLocalFirstBlockReader } from './block-reader.js'
export type { BlockReader, LocalFirstBlockReaderInit } from './block-reader.js'
export { resolveFile } from './file-exporter.js'
export { decodeFileNode } from './file-node.js'
export type { FileNode } from './file-node.js'
export type { UnixfsFile, ContentOptions, ResolveFileOptions } from './file-exporter.js'
export { writeToFile } from './write-file.js'
export type { WriteFileOptions } from './write-file.js'
