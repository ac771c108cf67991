/**
 * @packageDocumentation
 *
 * otherthing-storage: embedded IPFS (Helia) storage for workspaces. Every
 * workspace a machine joins gets its own private libp2p swarm (pnet), its own
 * blockstore and datastore, and one hard quota covers them all.
 */
// Must come first: Helia 7 / libp2p 3 need Promise.withResolvers (Node 22+).
import './polyfill.js'

export * from './errors.js'
