/**
 * The libp2p configuration of a private workspace node: TCP, Noise, Yamux,
 * Identify and a private-network connection protector keyed by the swarm key
 * (wire compatible with @libp2p/pnet and Kubo; see pnet.ts).
 * Nothing else: no bootstrap list, DHT, mDNS, relay, AutoNAT, UPnP, WebRTC,
 * WebSockets or delegated routing, so the node never talks to anyone outside
 * its workspace.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLimiter } from './bandwidth.js'
import { privateNetwork } from './pnet.js'
import type { BandwidthLimits } from './bandwidth.js'
import type { SwarmKey } from '../swarm-key/index.js'
import type { CreateLibp2pOptions } from '@helia/libp2p'

/** Default listen address: every interface, a port chosen by the OS. */
export const DEFAULT_LISTEN_ADDRESSES = ['/ip4/0.0.0.0/tcp/0']

/** @default 100 */
export const DEFAULT_MAX_CONNECTIONS = 100

export interface WorkspaceLibp2pInit {
  swarmKey: SwarmKey
  /** @default ['/ip4/0.0.0.0/tcp/0'] */
  listenAddresses?: string[]
  /** @default 100 */
  maxConnections?: number
  /** Per-workspace bandwidth limits. @default none */
  bandwidth?: BandwidthLimits
}

export function workspaceLibp2pOptions (init: WorkspaceLibp2pInit): CreateLibp2pOptions<{ identify: ReturnType<ReturnType<typeof identify>> }> {
  return {
    addresses: { listen: init.listenAddresses ?? DEFAULT_LISTEN_ADDRESSES },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // a paused stream (transfer/ pauses while its writes catch up) buffers what the peer may
    // still send, up to the receive window: keep that window (default 16 MiB) under the read
    // buffer limit (default 4 MiB, exceeding it resets the stream). The initial window stays
    // at the spec's 256 KiB (Kubo peers assume it).
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 4 * 1024 * 1024, maxReadBufferLength: 8 * 1024 * 1024 } })],
    connectionProtector: privateNetwork({ psk: init.swarmKey.bytes, limiter: createLimiter(init.bandwidth) }),
    connectionManager: {
      maxConnections: init.maxConnections ?? DEFAULT_MAX_CONNECTIONS
    },
    peerDiscovery: [],
    services: {
      identify: identify()
    }
  }
}
