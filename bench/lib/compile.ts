/**
 * Child processes run plain JavaScript, not tsx: tsx's loader costs about
 * 75 MiB of RSS per process, which would hide what the storage node itself
 * uses. `compileForChildren` transpiles src/ and bench/ (TypeScript's
 * `transpileModule`, no type check) into a temp dir that mirrors the repo,
 * with a symlink to node_modules.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

async function * tsFiles (dir: string): AsyncGenerator<string> {
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name === 'node_modules' || e.name === 'results') continue
      yield * tsFiles(p)
    } else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      yield p
    }
  }
}

/** Rewrite `./x.ts` specifiers (bench/workers uses them) to `./x.js`. */
export function rewriteTsSpecifiers (code: string): string {
  return code.replace(/(['"`])(\.{1,2}\/[^'"`]*?)\.ts\1/g, '$1$2.js$1')
}

/** Transpile src/ and bench/ into `outDir` (mirroring the repo) and return `outDir`. */
export async function compileForChildren (outDir: string, root = REPO_ROOT): Promise<string> {
  for (const top of ['src', 'bench']) {
    for await (const file of tsFiles(path.join(root, top))) {
      const source = await fs.readFile(file, 'utf8')
      const out = ts.transpileModule(source, {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          sourceMap: false,
          verbatimModuleSyntax: false,
          isolatedModules: true
        }
      })
      const dest = path.join(outDir, path.relative(root, file)).replace(/\.ts$/, '.js')
      await fs.mkdir(path.dirname(dest), { recursive: true })
      await fs.writeFile(dest, rewriteTsSpecifiers(out.outputText))
    }
  }
  await fs.writeFile(path.join(outDir, 'package.json'), JSON.stringify({ type: 'module' }))
  await fs.symlink(path.join(root, 'node_modules'), path.join(outDir, 'node_modules'), 'dir').catch((err: any) => {
    if (err.code !== 'EEXIST') throw err
  })
  return outDir
}
