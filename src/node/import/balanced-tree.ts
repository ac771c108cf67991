/**
 * The importer's balanced layout, built as leaves arrive: every
 * `maxChildrenPerNode` nodes of a level become one parent on the level above,
 * and at the end each level's remainder becomes one more parent, until a level
 * holds a single node: the root. Same tree as ipfs-unixfs-importer's
 * `balanced()` layout with `reduceSingleLeafToSelf` (a one-chunk file is its
 * leaf), holding at most `maxChildrenPerNode` summaries per level.
 */
import { encodeParent } from './layout.js'
import type { EncodedBlock, FileLayout, NodeSummary } from './layout.js'

/** Stores a parent block and returns its summary (with its CID). */
export type WriteParent = (block: EncodedBlock, dagSize: number, fileSize: number) => Promise<NodeSummary>

export interface BalancedTree {
  /** Adds the next leaf (in file order). */
  push(leaf: NodeSummary): Promise<void>
  /** Writes the remaining parents and returns the root and its height (0 for a single leaf). */
  finish(): Promise<{ root: NodeSummary, height: number }>
}

export function createBalancedTree (layout: FileLayout, writeParent: WriteParent): BalancedTree {
  const max = layout.maxChildrenPerNode
  /** nodes of each level not yet under a parent */
  const pending: NodeSummary[][] = [[]]
  /** nodes ever produced on each level */
  const counts: number[] = [0]

  const reduce = async (level: number, children: NodeSummary[]): Promise<void> => {
    const { block, dagSize, fileSize } = encodeParent(children, layout)
    await add(level + 1, await writeParent(block, dagSize, fileSize))
  }

  const add = async (level: number, node: NodeSummary): Promise<void> => {
    pending[level] ??= []
    counts[level] = (counts[level] ?? 0) + 1
    pending[level].push(node)
    if (pending[level].length === max) {
      const children = pending[level]
      pending[level] = []
      await reduce(level, children)
    }
  }

  return {
    push: async (leaf) => { await add(0, leaf) },
    async finish () {
      for (let level = 0; ; level++) {
        const higher = counts[level + 1] ?? 0
        const rest = pending[level] ?? []
        if (higher === 0 && rest.length === 1) return { root: rest[0], height: level }
        if (rest.length > 0) {
          pending[level] = []
          await reduce(level, rest)
        }
        if (level > 64) throw new Error('balanced tree did not converge')
      }
    }
  }
}
