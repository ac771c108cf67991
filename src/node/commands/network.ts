/** `connect`, `peers`, `multiaddrs`, bootstrap dials and the peer reset of timed-out wants. */
import { InvalidArgumentError, StorageError, SwarmKeyMismatchError } from '../../errors.js'
import { multiaddr } from '@multiformats/multiaddr'
import { isAbortError, throwIfAborted, toAbortedError } from '../abort.js'
import type { PeerReset, WorkspaceComponents } from '../components.js'
import type { PeerInfo } from '../types.js'
import type { AbortOptions, Libp2p } from '@libp2p/interface'

export type NetworkComponents = Pick<WorkspaceComponents, 'libp2p' | 'settings' | 'log'> & Partial<Pick<WorkspaceComponents, 'pnet'>>

export function multiaddrs (components: Pick<WorkspaceComponents, 'libp2p'>): string[] {
  const id = components.libp2p.peerId.toString()
  return components.libp2p.getMultiaddrs().map(ma => {
    const s = ma.toString()
    return s.includes('/p2p/') ? s : `${s}/p2p/${id}`
  })
}

export async function connect (components: NetworkComponents, address: string, options: AbortOptions = {}): Promise<void> {
  throwIfAborted(options.signal)
  let ma
  try {
    ma = multiaddr(address)
  } catch (err) {
    throw new InvalidArgumentError(`Invalid multiaddr ${JSON.stringify(address)}`, { cause: err })
  }
  let conn
  const started = Date.now()
  try {
    conn = await components.libp2p.dial(ma, { signal: options.signal })
  } catch (err) {
    // the pnet handshake failed on the key: libp2p's upgrader keeps only the message, the monitor knows
    if (components.pnet?.outboundMismatch(ma, started) != null) throw new SwarmKeyMismatchError(`Could not connect to ${address}: the peer has another swarm key`, { cause: err, address })
    if (options.signal?.aborted === true || isAbortError(err)) throw toAbortedError(err, `Dial to ${address} aborted or timed out`)
    throw new StorageError(`Could not connect to ${address}: ${(err as Error).message}`, { cause: err })
  }
  // remember the peer so libp2p reconnects to it (and redials after a restart)
  try {
    await components.libp2p.peerStore.merge(conn.remotePeer, {
      multiaddrs: [ma.decapsulateCode(421)],
      tags: { 'keep-alive-workspace': { value: 50 } }
    })
  } catch (err) {
    components.log.error('could not remember peer %p: %e', conn.remotePeer, err)
  }
}

/** Dials each peer (best effort, each within the dial timeout) and remembers it. */
export async function dialPeers (components: NetworkComponents, peers: string[], options: AbortOptions = {}): Promise<void> {
  await Promise.all(peers.map(async p => {
    const signal = AbortSignal.any([AbortSignal.timeout(components.settings.dialTimeout), ...(options.signal != null ? [options.signal] : [])])
    await connect(components, p, { signal }).catch((err) => { components.log('bootstrap dial to %s failed: %e', p, err) })
  }))
}

export function peers (components: Pick<WorkspaceComponents, 'libp2p'>): PeerInfo[] {
  const byPeer = new Map<string, Set<string>>()
  for (const conn of components.libp2p.getConnections()) {
    const id = conn.remotePeer.toString()
    const set = byPeer.get(id) ?? new Set<string>()
    set.add(conn.remoteAddr.toString())
    byPeer.set(id, set)
  }
  return [...byPeer].map(([peerId, addrs]) => ({ peerId, addresses: [...addrs] }))
}

/**
 * Reconnects every connected peer. A bitswap peer that already sent us a block ignores a new
 * want for it (its ledger keeps the old want as "sent" and our side never sends the cancel),
 * so a block deleted after a failed pin or by verify could never be fetched from that peer
 * again; a want lost in transit stalls the same way. Reconnecting drops both ledgers and
 * bitswap resends the whole wantlist. At most once per half block timeout.
 */
export function createPeerReset (components: { libp2p: Pick<Libp2p, 'getConnections' | 'hangUp' | 'dial'> } & Pick<WorkspaceComponents, 'settings' | 'log'>): PeerReset {
  let resetting: Promise<void> | undefined
  let lastReset = 0
  return {
    async resetPeers () {
      if (resetting != null) return resetting
      if (Date.now() - lastReset < components.settings.blockTimeout / 2) return
      lastReset = Date.now()
      const { libp2p } = components
      resetting = (async () => {
        const remotes = [...new Set(libp2p.getConnections().map(c => c.remotePeer))]
        await Promise.all(remotes.map(async peer => {
          try {
            await libp2p.hangUp(peer)
            await libp2p.dial(peer, { signal: AbortSignal.timeout(components.settings.dialTimeout) })
          } catch (err) {
            components.log('reconnecting %p failed: %e', peer, err)
          }
        }))
      })().finally(() => { resetting = undefined })
      return resetting
    }
  }
}
