/**
 * The fixture of the Kubo RPC specs: a real storage node in a temp folder,
 * the node runner's HTTP app on a loopback port, and the real
 * `kubo-rpc-client` pointed at it with the API token.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { create } from 'kubo-rpc-client'
import type { KuboRPCClient } from 'kubo-rpc-client'
import { createStorageNode } from '../../src/node/index.js'
import type { StorageNode, WorkspaceNode } from '../../src/node/index.js'
import { buildApp } from '../../src/runner/http/index.js'
import type { HttpApp } from '../../src/runner/http/index.js'
import { generateSwarmKey } from '../../src/swarm-key/index.js'

export const MiB = 1024 * 1024

export interface KuboApiInit {
  /** Temp folder prefix (the spec's name). */
  name: string
  /** The workspace joined (the API's default one). */
  workspace: string
  token: string
  /** @default 128 MiB */
  quotaBytes?: number
  /** The workspace's swarm key (a fresh one by default). */
  swarmKey?: string
}

export interface KuboApi {
  /** The temp folder (the node's storage path is `<dir>/node`); use it for scratch files too. */
  dir: string
  node: StorageNode
  ws: WorkspaceNode
  app: HttpApp
  /** `http://127.0.0.1:<port>` */
  url: string
  ipfs: KuboRPCClient
  /** POST `/api/v0/<command>` with the token, without the client (to read status and body as sent). */
  post: (command: string, init?: RequestInit) => Promise<Response>
  /** Closes the app, stops the node, removes the folder. */
  close: () => Promise<void>
}

/** A storage node that joined `workspace`, served by the HTTP app on a free loopback port. */
export async function startKuboApi (init: KuboApiInit): Promise<KuboApi> {
  const dir = await mkdtemp(join(tmpdir(), `${init.name}-`))
  const node = await createStorageNode({
    storagePath: join(dir, 'node'),
    quotaBytes: init.quotaBytes ?? 128 * MiB,
    listenAddresses: ['/ip4/127.0.0.1/tcp/0'],
    reserveBytes: 0
  })
  let app: HttpApp | undefined
  try {
    const ws = await node.join(init.workspace, init.swarmKey ?? generateSwarmKey())
    app = buildApp({ storageNode: node, apiToken: init.token })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const authorization = `Bearer ${init.token}`
    const served = app
    return {
      dir,
      node,
      ws,
      app,
      url,
      ipfs: create({ url, headers: { authorization } }),
      post: async (command, requestInit = {}) => await fetch(`${url}/api/v0/${command}`, {
        method: 'POST',
        ...requestInit,
        headers: { authorization, ...(requestInit.headers as Record<string, string> | undefined) }
      }),
      close: async () => {
        await served.close()
        await node.stop()
        await rm(dir, { recursive: true, force: true })
      }
    }
  } catch (err) {
    await app?.close()
    await node.stop()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}
