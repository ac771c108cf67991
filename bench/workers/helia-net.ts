/**
 * Stock Helia on the network, for the pin row's stock-Helia column: `createHeliaLight` with
 * `@helia/libp2p`'s `withLibp2pLight` (TCP, Noise, Yamux, Identify on 127.0.0.1, the stock
 * `@libp2p/pnet` protector with the workspace's swarm key) and `@helia/bitswap`, over
 * blockstore-fs and datastore-level. No DHT, no HTTP gateways, no delegated routing: blocks
 * come by bitswap from the peer it dialed. `addFile` uses Kubo's import options (as
 * helia.ts does); `pin` is a recursive `helia.pins.add`, which fetches the whole DAG.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify, type Identify } from '@libp2p/identify'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import { createHeliaLight } from 'helia'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import type { Handlers } from './entry.js'
import type { HeliaWithLibp2p } from '@helia/libp2p'

function build (storagePath: string, swarmKey: string): HeliaWithLibp2p<{ identify: Identify }> {
  const light = createHeliaLight({
    blockstore: new FsBlockstore(path.join(storagePath, 'blocks')),
    datastore: new LevelDatastore(path.join(storagePath, 'datastore'))
  })
  return withBitswap(withLibp2pLight(light, {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // @libp2p/pnet wants the whole Kubo key file in its /base16/ form (the bench's key is 64 hex digits)
    connectionProtector: preSharedKey({ psk: new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${swarmKey}`) }),
    services: { identify: identify() }
  }))
}

let helia: ReturnType<typeof build> | undefined

function node (): ReturnType<typeof build> {
  if (helia === undefined) throw new Error('helia not started')
  return helia
}

export const handlers: Handlers = {
  async start (args: { storagePath: string, swarmKey: string }) {
    await fsp.mkdir(args.storagePath, { recursive: true })
    const h = helia = build(args.storagePath, args.swarmKey)
    await h.start()
    return { peerId: h.libp2p.peerId.toString(), multiaddrs: h.libp2p.getMultiaddrs().map(String) }
  },
  async addFile (args: { path: string }) {
    const start = performance.now()
    const cid = await unixfs(node()).addByteStream(fs.createReadStream(args.path), {
      cidVersion: 0,
      rawLeaves: false,
      reduceSingleLeafToSelf: true,
      chunker: fixedSize({ chunkSize: 262144 }),
      layout: balanced({ maxChildrenPerNode: 174 })
    })
    for await (const _ of node().pins.add(cid)) { /* walks the DAG */ }
    return { cid: cid.toString(), ms: performance.now() - start }
  },
  async pin (args: { cid: string, provider: string, timeout: number }) {
    await node().libp2p.dial(multiaddr(args.provider), { signal: AbortSignal.timeout(10_000) })
    const start = performance.now()
    for await (const _ of node().pins.add(CID.parse(args.cid), { signal: AbortSignal.timeout(args.timeout) })) { /* fetches by bitswap */ }
    return { ms: performance.now() - start }
  },
  async stop () {
    const h = helia
    helia = undefined
    await h?.stop()
  }
}
