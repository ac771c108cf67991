/**
 * A Helia node for one workspace without loading what a private workspace never runs.
 *
 * The `helia` package's entry point imports `@helia/http` and `@helia/libp2p`, and the
 * latter's entry point imports its default libp2p configuration: Kad-DHT, WebRTC (with the
 * native node-datachannel library), circuit relay, AutoNAT, UPnP, mDNS, auto-TLS, delegated
 * routing... Importing them costs about 70 MiB of RSS in every node process, although a
 * workspace node configures none of them (libp2p-config.ts). So:
 *
 * - the Helia class is loaded from its own module inside the installed `helia` package
 *   (`dist/src/helia.js`, what `createHeliaLight` instantiates); if that file cannot be found
 *   (another layout, a bundle) we fall back to `createHeliaLight` from the entry point;
 * - `withWorkspaceLibp2p` does what `@helia/libp2p`'s `withLibp2pLight` does for us: the
 *   libp2p node is created at Helia's start with the peer key kept in the datastore's
 *   keychain (`loadOrCreateSelfKey`, the same key Helia stores), Helia's routing asks
 *   libp2p's content and peer routing, and libp2p stops with Helia.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { loadOrCreateSelfKey } from '@libp2p/config'
import { logger } from '@libp2p/logger'
import { peerIdFromCID } from '@libp2p/peer-id'
import { createLibp2p } from 'libp2p'
import type { Helia, Peer, Provider, Router, RoutingOptions } from '@helia/interface'
import type { HeliaInit } from 'helia'
import type { AbortOptions, Libp2p, ServiceMap } from '@libp2p/interface'
import type { Libp2pOptions } from 'libp2p'
import type { CID } from 'multiformats/cid'

const log = logger('otherthing:node:helia')

/** What identifies our node to peers (identify's agent version). */
const NODE_INFO = { name: 'otherthing-storage', version: '0.1.0' }

type HeliaConstructor = new (init: HeliaInit & { name: string, version: string }) => Helia

let heliaClass: Promise<HeliaConstructor | undefined> | undefined

/** The file of the Helia class in the installed `helia` package, if it is where v7 keeps it. */
function heliaClassFile (): string | undefined {
  const require = createRequire(import.meta.url)
  for (const dir of require.resolve.paths('helia') ?? []) {
    const file = path.join(dir, 'helia', 'dist', 'src', 'helia.js')
    if (fs.existsSync(file)) return file
  }
  return undefined
}

async function loadHeliaClass (): Promise<HeliaConstructor | undefined> {
  const file = heliaClassFile()
  if (file == null) return undefined
  try {
    const mod = await import(pathToFileURL(file).href) as { Helia?: HeliaConstructor }
    return typeof mod.Helia === 'function' ? mod.Helia : undefined
  } catch (err) {
    log('cannot load the Helia class from %s, using the package entry point: %e', file, err)
    return undefined
  }
}

/** `createHeliaLight(init)`, without importing the `helia` entry point when possible. */
export async function createLeanHelia (init: HeliaInit): Promise<Helia> {
  heliaClass ??= loadHeliaClass()
  const HeliaClass = await heliaClass
  if (HeliaClass != null) return new HeliaClass({ ...NODE_INFO, ...init })
  const { createHeliaLight } = await import('helia')
  return createHeliaLight(init)
}

/** Helia's router over libp2p's content and peer routing (what `@helia/libp2p` adds). */
class Libp2pRouter implements Router {
  readonly name = 'libp2p-router'
  constructor (private readonly libp2p: Libp2p) {}

  async provide (cid: CID, options?: RoutingOptions): Promise<void> {
    await this.libp2p.contentRouting.provide(cid, options)
  }

  async cancelReprovide (key: CID, options?: AbortOptions): Promise<void> {
    await this.libp2p.contentRouting.cancelReprovide(key, options)
  }

  async * findProviders (cid: CID, options?: RoutingOptions): AsyncIterable<Provider> {
    for await (const info of this.libp2p.contentRouting.findProviders(cid, options)) {
      yield { id: info.id.toCID(), multiaddrs: info.multiaddrs, router: this.name, fallback: false }
    }
  }

  async put (key: Uint8Array, value: Uint8Array, options?: RoutingOptions): Promise<void> {
    await this.libp2p.contentRouting.put(key, value, options)
  }

  async get (key: Uint8Array, options?: RoutingOptions): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.libp2p.contentRouting.get(key, options))
  }

  async findPeer (peerId: CID, options?: RoutingOptions): Promise<Peer> {
    const info = await this.libp2p.peerRouting.findPeer(peerIdFromCID(peerId), options)
    return { id: info.id.toCID(), multiaddrs: info.multiaddrs, router: this.name }
  }

  async * getClosestPeers (key: Uint8Array, options?: RoutingOptions): AsyncIterable<Peer> {
    for await (const info of this.libp2p.peerRouting.getClosestPeers(key, options)) {
      yield { id: info.id.toCID(), multiaddrs: info.multiaddrs, router: this.name }
    }
  }
}

/**
 * Gives `helia` a `libp2p` node built from `options` when Helia starts (stopped with it), like
 * `withLibp2pLight` from `@helia/libp2p`.
 */
export function withWorkspaceLibp2p<T extends ServiceMap> (helia: Helia, options: Libp2pOptions<T>): Helia & { libp2p: Libp2p<T> } {
  let libp2p: Libp2p<T> | undefined
  Object.defineProperty(helia, 'libp2p', {
    configurable: true,
    enumerable: true,
    get () {
      if (libp2p == null) throw new Error('Helia is not started (no libp2p yet)')
      return libp2p
    }
  })
  helia.addMixin({
    name: 'libp2p',
    start: async (started) => {
      if (libp2p == null) {
        const privateKey = options.privateKey ?? await loadOrCreateSelfKey(started.datastore)
        libp2p = await createLibp2p({
          ...options,
          privateKey,
          datastore: options.datastore ?? started.datastore,
          nodeInfo: { userAgent: `${NODE_INFO.name}/${NODE_INFO.version}`, ...NODE_INFO, ...options.nodeInfo }
        })
      }
      if (!helia.hasRouter('libp2p-router')) helia.addRouter(new Libp2pRouter(libp2p as unknown as Libp2p))
      await libp2p.start()
    },
    stop: async () => {
      await libp2p?.stop()
    }
  })
  return helia as Helia & { libp2p: Libp2p<T> }
}
