/**
 * Shared primitives: one home each for CID parsing, tokens, the per-key lock, iterator helpers,
 * abort errors, the error-to-HTTP map and byte formatting.
 */
export * from './abort.js'
export * from './cid.js'
export * from './format-bytes.js'
export * from './host.js'
export * from './http-errors.js'
export * from './iterators.js'
export * from './key-lock.js'
export * from './tokens.js'
