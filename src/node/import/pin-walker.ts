/**
 * A graph walker for `helia.pins.add` over a DAG this node has just imported:
 * the import knows the tree's height, so the walker reads only the parents
 * (one block in `maxChildrenPerNode`) and yields the leaves from their links
 * without reading them back from disk.
 */
import * as dagPb from '@ipld/dag-pb'
import type { GraphNode, GraphWalkerFactory } from '@helia/interface'
import type { CID } from 'multiformats/cid'

/** Options of the walk (the subset of Helia's WalkOptions used here). */
interface WalkOptions {
  signal?: AbortSignal
}

async function readBlock (blockstore: { get(cid: CID, options?: any): AsyncIterable<Uint8Array> | Iterable<Uint8Array> }, cid: CID, options: WalkOptions): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const c of blockstore.get(cid, options)) chunks.push(c)
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}

/**
 * Walks a UnixFS file DAG of known `height` (0: the root is a leaf). Parents
 * seen twice (files with repeated content) are walked once.
 */
export function importedFileWalker (height: number): GraphWalkerFactory {
  return ({ blockstore }) => ({
    async * walk (root: CID, options: WalkOptions = {}): AsyncGenerator<GraphNode<any>> {
      const seen = new Set<string>()
      const stack: Array<{ cid: CID, height: number, depth: number, path: CID[] }> = [{ cid: root, height, depth: 0, path: [] }]
      while (stack.length > 0) {
        options.signal?.throwIfAborted()
        const item = stack.pop() as { cid: CID, height: number, depth: number, path: CID[] }
        const path = [...item.path, item.cid]
        // pins.add reads only node.block.cid
        yield { block: { cid: item.cid } as any, depth: item.depth, path }
        if (item.height === 0) continue
        const key = item.cid.toString()
        if (seen.has(key)) continue
        seen.add(key)
        const node = dagPb.decode(await readBlock(blockstore as any, item.cid, options))
        for (let i = node.Links.length - 1; i >= 0; i--) {
          stack.push({ cid: node.Links[i].Hash, height: item.height - 1, depth: item.depth + 1, path })
        }
      }
    }
  })
}
