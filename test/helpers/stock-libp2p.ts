/**
 * A stock libp2p node's options, as someone outside our code would build them: loopback TCP,
 * noise, yamux and identify, with `@libp2p/pnet`'s own `preSharedKey` when given a swarm key
 * (a peer that must interoperate with ours), without any protector when not (an outsider).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import type { Libp2pOptions } from 'libp2p'
import { parseSwarmKey, swarmKeyToPsk } from '../../src/swarm-key/index.js'

export function stockLibp2pOptions (swarmKey?: string): Libp2pOptions<{ identify: ReturnType<ReturnType<typeof identify>> }> {
  return {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(swarmKey != null ? { connectionProtector: preSharedKey({ psk: swarmKeyToPsk(parseSwarmKey(swarmKey)) }) } : {}),
    services: { identify: identify() }
  }
}
