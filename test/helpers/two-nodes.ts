/**
 * The fixture of the node specs that need two storage nodes on loopback TCP
 * in a temp folder: either one workspace (the second node bootstraps to the
 * first, so blocks move between them) or two unrelated workspaces (nothing
 * can come from a peer).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStorageNode } from '../../src/node/index.js'
import type { StorageNode, StorageNodeInit, WorkspaceNode } from '../../src/node/index.js'
import { generateSwarmKey } from '../../src/swarm-key/index.js'

export interface TwoNodesInit {
  /** Temp folder prefix. */
  name: string
  /** One workspace both join (peers of one swarm), or one workspace each (unrelated swarms). */
  workspace: string | [string, string]
  quotaBytes: number
  /** @default quotaBytes */
  quotaBytesB?: number
  /** More options of the second node (e.g. a short `blockTimeout`). */
  b?: Partial<StorageNodeInit>
}

export interface TwoNodes {
  /** The temp folder (the nodes under `<dir>/a` and `<dir>/b`); scratch files may go there too. */
  dir: string
  a: StorageNode
  b: StorageNode
  wa: WorkspaceNode
  wb: WorkspaceNode
  /** Stops both nodes, removes the folder. */
  close: () => Promise<void>
}

export async function startTwoNodes (init: TwoNodesInit): Promise<TwoNodes> {
  const dir = await mkdtemp(join(tmpdir(), `${init.name}-`))
  const nodes: StorageNode[] = []
  const close = async (): Promise<void> => {
    await Promise.allSettled(nodes.map(async n => { await n.stop() }))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const listenAddresses = ['/ip4/127.0.0.1/tcp/0']
    const a = await createStorageNode({ storagePath: join(dir, 'a'), quotaBytes: init.quotaBytes, listenAddresses })
    nodes.push(a)
    const b = await createStorageNode({ storagePath: join(dir, 'b'), quotaBytes: init.quotaBytesB ?? init.quotaBytes, listenAddresses, ...init.b })
    nodes.push(b)
    let wa: WorkspaceNode
    let wb: WorkspaceNode
    if (typeof init.workspace === 'string') {
      const key = generateSwarmKey()
      wa = await a.join(init.workspace, key)
      wb = await b.join(init.workspace, key, { bootstrapPeers: wa.multiaddrs() })
    } else {
      wa = await a.join(init.workspace[0], generateSwarmKey())
      wb = await b.join(init.workspace[1], generateSwarmKey())
    }
    return { dir, a, b, wa, wb, close }
  } catch (err) {
    await close()
    throw err
  }
}
