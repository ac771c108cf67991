/**
 * All-or-nothing writes for one operation (addAll, importCar, blockPut): the
 * session remembers every block it newly wrote (absent before its put) and,
 * on failure, deletes those no pin holds, so the quota is back to the byte
 * where it was. A block that already existed is never deleted.
 *
 * This is the one place to swap for the blockstore's own write-session
 * primitive when it lands (issue #13).
 */
import { logger } from '@libp2p/logger'
import { AbortedError } from '../../errors.js'
import { BlockSet } from './block-set.js'
import type { ContentComponents, SessionBlocks } from './components.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing-storage:write-session')

/** The flag of the blocks this session newly stored. */
const NEW = 1

export interface WriteSession {
  /** Write through this: every new block is tracked. */
  readonly blockstore: Pick<Blockstore, 'put' | 'has' | 'get'>
  /** Blocks newly written so far. */
  readonly written: number
  /** Bytes of the blocks newly written so far. */
  readonly bytes: number
  /** Every block put through this session (new or not), each once. */
  touched(): Iterable<CID>
  /** Deletes the blocks this session wrote that no pin holds. Never throws (errors are logged). */
  rollback(): Promise<void>
}

export interface WriteSessionOptions {
  /**
   * Write straight to the local store (`local.put`: one existence check, no announcement to
   * peers), for imports of new content nobody can be waiting for. @default false
   */
  direct?: boolean
}

export function createWriteSession (components: Pick<ContentComponents, 'blockstore' | 'local' | 'pins'>, sessionOptions: WriteSessionOptions = {}): WriteSession {
  const { blockstore, local, pins } = components
  const direct = sessionOptions.direct === true ? local.put?.bind(local) : undefined
  // writing through the store's own write session, its set of blocks is this one's too (a
  // 100,000-file folder puts 130,000 blocks: ~7 MiB a set); otherwise one packed set of our own,
  // every block put, flagged NEW when this session stored it
  const shared = direct != null ? local.session?.() : undefined
  const all = shared == null ? new BlockSet() : undefined
  let written = 0
  // puts in flight: a count (a set of promises churned per block costs its rehashes), and who waits for none
  let inFlight = 0
  let idle: Array<() => void> = []
  const settled = (): void => {
    if (--inFlight > 0 || idle.length === 0) return
    const waiting = idle
    idle = []
    for (const resolve of waiting) resolve()
  }
  let closed = false
  let bytes = 0
  const tracked: WriteSession['blockstore'] = {
    async put (cid, block, options) {
      // a write still running when the operation failed must not land after the rollback
      if (closed) throw new AbortedError('The operation writing this block has failed')
      inFlight++
      try {
        let stored: boolean
        if (direct != null && block instanceof Uint8Array) {
          // one existence check, in the store's own put
          stored = await direct(cid, block, options)
        } else {
          stored = !await local.has(cid, options)
          await blockstore.put(cid, block, options)
        }
        if (stored) {
          if (all == null || all.mark(cid, NEW)) written++
          if (block instanceof Uint8Array) bytes += block.byteLength
        } else {
          all?.add(cid)
        }
        return cid
      } finally {
        settled()
      }
    },
    has: async (cid, options) => blockstore.has(cid, options),
    get: (cid, options) => blockstore.get(cid, options)
  }
  return {
    blockstore: tracked,
    get written () { return written },
    get bytes () { return bytes },
    touched: () => all ?? (shared as SessionBlocks).putBlocks(),
    async rollback () {
      closed = true
      while (inFlight > 0) await new Promise<void>(resolve => { idle.push(resolve) })
      for (const cid of all?.entries(NEW) ?? (shared as SessionBlocks).newBlocks()) {
        try {
          if (!await pins.isPinned(cid)) await local.delete(cid)
        } catch (err) {
          log.error('could not roll back block %c: %e', cid, err)
        }
      }
      // a shared set is the store session's: its own rollback still needs it
      all?.clear()
      written = 0
    }
  }
}
