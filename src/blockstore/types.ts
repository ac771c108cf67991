/** Options every async operation accepts (libp2p's, re-exported for this module's users). */
export type { AbortOptions } from '@libp2p/interface'
