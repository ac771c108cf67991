/**
 * The libp2p configuration of a private workspace node: TCP, Noise, Yamux,
 * Identify and a private-network connection protector keyed by the swarm key
 * (wire compatible with @libp2p/pnet and Kubo; see pnet.ts).
 * Nothing else: no bootstrap list, DHT, mDNS, relay, AutoNAT, UPnP, WebRTC,
 * WebSockets or delegated routing, so the node never talks to anyone outside
 * its workspace.
 *
 * Against lockout by outsiders: libp2p's pending-upgrade slots
 * (`maxIncomingPendingConnections`) are raised above what one remote host may
 * hold in the pnet handshake (`maxPendingPerHost`, pnet.ts), the pnet
 * handshake has its own 3 s deadline, and the whole inbound upgrade 5 s
 * (libp2p's default is 10 s, during which 10 silent sockets used to refuse
 * every member's dial).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLimiter } from './bandwidth.js'
import { noiseCrypto } from './noise-crypto.js'
import { privateNetwork } from './pnet.js'
import type { BandwidthLimits } from './bandwidth.js'
import type { PnetCipher, PnetMonitor } from './pnet.js'
import type { SwarmKey } from '../swarm-key/index.js'
import type { CreateLibp2pOptions } from '@helia/libp2p'

/** Default listen address: every interface, a port chosen by the OS. */
export const DEFAULT_LISTEN_ADDRESSES = ['/ip4/0.0.0.0/tcp/0']

/** @default 100 */
export const DEFAULT_MAX_CONNECTIONS = 100

/** Inbound connections being upgraded at once (libp2p's default is 10). */
export const MAX_INCOMING_PENDING_CONNECTIONS = 64

/** Pnet handshakes in progress at once from one remote host. */
export const MAX_PENDING_PER_HOST = 8

export interface WorkspaceLibp2pInit {
  swarmKey: SwarmKey
  /** @default ['/ip4/0.0.0.0/tcp/0'] */
  listenAddresses?: string[]
  /** @default 100 */
  maxConnections?: number
  /** Per-workspace bandwidth limits. @default none */
  bandwidth?: BandwidthLimits
  /** Counts private-network handshakes and key mismatches (see `createPnetMonitor`). */
  pnetMonitor?: PnetMonitor
  /** XSalsa20 implementation of the private network. @default 'auto' */
  pnetCipher?: PnetCipher
}

export function workspaceLibp2pOptions (init: WorkspaceLibp2pInit): CreateLibp2pOptions<{ identify: ReturnType<ReturnType<typeof identify>> }> {
  return {
    addresses: { listen: init.listenAddresses ?? DEFAULT_LISTEN_ADDRESSES },
    transports: [tcp()],
    // noise's transport messages sealed and opened by libsodium (noise-crypto.ts), the wire unchanged
    connectionEncrypters: [noise({ crypto: noiseCrypto() })],
    // a paused stream (transfer/ pauses while its writes catch up) buffers what the peer may
    // still send, up to the receive window: keep that window (default 16 MiB) under the read
    // buffer limit (default 4 MiB, exceeding it resets the stream). The initial window stays
    // at the spec's 256 KiB (Kubo peers assume it).
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 4 * 1024 * 1024, maxReadBufferLength: 8 * 1024 * 1024 } })],
    connectionProtector: privateNetwork({
      psk: init.swarmKey.bytes,
      limiter: createLimiter(init.bandwidth),
      monitor: init.pnetMonitor,
      cipher: init.pnetCipher,
      handshakeTimeout: 3000,
      maxPendingPerHost: MAX_PENDING_PER_HOST
    }),
    connectionManager: {
      maxConnections: init.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
      inboundUpgradeTimeout: 5000
    },
    peerDiscovery: [],
    services: {
      identify: identify()
    }
  }
}
