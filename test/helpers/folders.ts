/**
 * Folder trees on disk for the folder tests, and the reference CIDs of the
 * same tree from ipfs-unixfs-importer with the same IPIP-499 profile.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importer } from 'ipfs-unixfs-importer'
import type { ImportCandidate, ImporterOptions } from 'ipfs-unixfs-importer'

/** Deterministic bytes: sha256 counter stream of `seed`. */
export function bytesOf (seed: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  for (let off = 0, i = 0; off < size; i++) {
    const h = createHash('sha256').update(`${seed}:${i}`).digest()
    h.copy(out, off, 0, Math.min(h.length, size - off))
    off += h.length
  }
  return out
}

/**
 * A tree with nested folders, an empty folder, a hidden file and folder, an
 * empty file, a multi-chunk file (both profiles) and a symlink.
 */
export function writeSampleTree (root: string): void {
  mkdirSync(join(root, 'docs/deep/deeper'), { recursive: true })
  mkdirSync(join(root, 'empty'))
  mkdirSync(join(root, '.git'))
  writeFileSync(join(root, 'readme.txt'), 'hello folders\n')
  writeFileSync(join(root, 'empty.bin'), '')
  writeFileSync(join(root, '.hidden'), 'secret')
  writeFileSync(join(root, '.git/config'), '[core]\n')
  writeFileSync(join(root, 'docs/a.txt'), bytesOf('a', 1000))
  writeFileSync(join(root, 'docs/deep/big.bin'), bytesOf('big', 1024 * 1024 + 300 * 1024))
  writeFileSync(join(root, 'docs/deep/deeper/z.txt'), 'z')
  symlinkSync('../readme.txt', join(root, 'docs/link'))
}

/** The import candidates of a tree on disk, as `ipfs add -r` sees it (root named `name`). */
export function candidatesOf (dir: string, name: string, opts: { hidden?: boolean } = {}): ImportCandidate[] {
  const out: ImportCandidate[] = [{ path: name }]
  const walk = (abs: string, rel: string): void => {
    for (const d of readdirSync(abs, { withFileTypes: true })) {
      if (opts.hidden !== true && d.name.startsWith('.')) continue
      const a = join(abs, d.name)
      const r = `${rel}/${d.name}`
      if (d.isDirectory()) {
        out.push({ path: r })
        walk(a, r)
      } else if (d.isSymbolicLink()) {
        out.push({ path: r, link: readlinkSync(a) } as ImportCandidate)
      } else {
        out.push({ path: r, content: readFileSync(a) })
      }
    }
  }
  walk(dir, name)
  return out
}

/** path -> CID string of every entry ipfs-unixfs-importer yields, and the last one. */
export async function referenceCids (candidates: ImportCandidate[], options: ImporterOptions): Promise<{ byPath: Map<string, string>, root: string }> {
  const byPath = new Map<string, string>()
  let root = ''
  for await (const r of importer(candidates, new MemoryBlockstore(), options)) {
    byPath.set(r.path ?? '', r.cid.toString())
    root = r.cid.toString()
  }
  return { byPath, root }
}
