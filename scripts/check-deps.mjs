#!/usr/bin/env node
// Dependency check (`npm run deps`), part of `npm test`:
// - every package src/ (the published code) imports is in `dependencies`;
// - every package test/, bench/, examples/, bin/ and the configs import is declared (either list);
// - every entry of `dependencies` is imported by src/ or bin/ (else it belongs in devDependencies or nowhere);
// - every entry of `devDependencies` is used somewhere (imports, or a tool run by a script).
// Imports are found by pattern (static, dynamic, `require`, `createRequire(...)('x')`) with comments removed.
import { builtinModules } from 'node:module'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const deps = new Set(Object.keys(pkg.dependencies ?? {}))
const devDeps = new Set(Object.keys(pkg.devDependencies ?? {}))

/** Packages src/ may import although they are devDependencies, and why. */
const DEV_ONLY_IN_SRC = {
  typescript: 'src/dashboard/assets.ts transpiles the page script with it only when running from source (dist/ has the .js)',
  '@libp2p/pnet': 'src/node/pnet.ts looks for the xsalsa20 WASM next to it only as a fallback',
  tsx: 'bin/otherthing-storage.js runs the sources through tsx in a git checkout, the compiled dist/ otherwise'
}
/** Dependencies no source file imports, and why they are needed anyway. */
const USED_WITHOUT_IMPORT = {
  '@types/better-sqlite3': 'the published types of otherthing-storage/orchestrator import better-sqlite3 types',
  '@types/pg': 'the published types of the PostgreSQL store (orchestrator/pg) import pg types'
}
/** devDependencies used as tools (by scripts or other tools), not imported. */
const TOOLS = new Set(['typescript', 'tsx', 'vitest', 'eslint', '@eslint/js', 'typescript-eslint', 'madge', 'typedoc'])
/** devDependencies kept for work in progress, and why (remove the entry once used, or the package). */
const PENDING = {}

const SOURCE = /\.(c|m)?(t|j)s$/
function filesUnder (dir) {
  let out = []
  let entries
  try { entries = readdirSync(dir) } catch { return out }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name === 'results') continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out = out.concat(filesUnder(path))
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

const PATTERNS = [
  /\bfrom\s+['"]([^'"]+)['"]/g,
  /^\s*import\s+['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\b(?:require|req|require\.resolve)\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\bcreateRequire\([^)]*\)\(\s*['"]([^'"]+)['"]\s*\)/g
]
const builtins = new Set(builtinModules)

function packageOf (specifier) {
  if (!/^(@[\w.~-]+\/)?[\w.~-]+(\/[\w./~-]*)?$/.test(specifier) || specifier.startsWith('.')) return null // relative, URL, or not an import
  if (specifier.startsWith('node:')) return null
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]
  if (builtins.has(name) || name === pkg.name) return null
  return name
}

/** package name -> files importing it */
function importsOf (files) {
  const found = new Map()
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '')
    for (const re of PATTERNS) {
      for (const m of text.matchAll(re)) {
        const name = packageOf(m[1])
        if (name == null) continue
        if (!found.has(name)) found.set(name, new Set())
        found.get(name).add(relative(root, file))
      }
    }
  }
  return found
}

const published = importsOf([...filesUnder(join(root, 'src')), ...filesUnder(join(root, 'bin'))])
const rest = importsOf([
  ...['test', 'bench', 'examples', 'scripts'].flatMap(d => filesUnder(join(root, d))),
  ...readdirSync(root).filter(n => SOURCE.test(n)).map(n => join(root, n))
])

const problems = []
for (const [name, files] of published) {
  if (deps.has(name)) continue
  if (devDeps.has(name) && name in DEV_ONLY_IN_SRC) continue
  problems.push(`${name} is imported by published code (${[...files].join(', ')}) but is not in dependencies`)
}
for (const [name, files] of rest) {
  if (deps.has(name) || devDeps.has(name)) continue
  problems.push(`${name} is imported by ${[...files].join(', ')} but is not declared in package.json`)
}
for (const name of deps) {
  if (published.has(name) || name in USED_WITHOUT_IMPORT) continue
  const where = rest.get(name)
  problems.push(where == null
    ? `${name} is in dependencies but nothing imports it`
    : `${name} is in dependencies but only ${[...where].join(', ')} import it: move it to devDependencies`)
}
for (const name of devDeps) {
  if (rest.has(name) || published.has(name) || TOOLS.has(name) || name in PENDING) continue
  if (name.startsWith('@types/') && (deps.has(name.slice(7)) || devDeps.has(name.slice(7)) || name === '@types/node')) continue
  problems.push(`${name} is in devDependencies but nothing uses it`)
}

if (problems.length > 0) {
  for (const p of problems) console.error(`deps: ${p}`)
  process.exitCode = 1
} else {
  console.log(`deps: ok (${published.size} packages used by src/ and bin/, ${rest.size} by tests, benches, examples and configs)`)
}
