/**
 * UnixFS folders: import (addAll, addDirectory), path resolution, ls and
 * directory download. Each operation is a free function over a narrow
 * ContentComponents pick.
 */
export { addAll } from './add-all.js'
export { addDirectory, addDirectoryEntries, walkDirectory } from './add-directory.js'
export { folderLayout, normalisePath } from './options.js'
export type { AddAllEntry, AddAllOptions, AddedEntry, AddedEntryType, FolderLayout } from './options.js'
export { resolvePath, parseCidPath, bareCid } from './resolve.js'
export type { ResolveResult, CidPath } from './resolve.js'
export { ls, entryType, entryFileSize } from './ls.js'
export type { LsEntry, LsOptions } from './ls.js'
export { getDirectory, checkDestination } from './get-directory.js'
export type { GetDirectoryOptions } from './get-directory.js'
export { pinRoot, unpinAll } from './pin-root.js'
export type { PinRootOptions } from './pin-root.js'
