#!/usr/bin/env node
// Launcher of the otherthing-storage CLI (src/runner/cli.ts).
// - In a git checkout (src/ present, tsx installed as a devDependency) it runs
//   the TypeScript sources through tsx, so the CLI is never stale.
// - In an installed package (no src/, only the compiled dist/) it runs
//   dist/src/runner/cli.js.
// OTHERTHING_CLI_DIST=1 forces the compiled build.
import { existsSync } from 'node:fs'
import v8 from 'node:v8'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

// Before any module of ours loads: V8's new space keeps its initial 2 x 1 MiB instead of
// doubling to 32 MiB committed during start-up (src/runner/process-memory.ts says why this is
// the one heap flag that works at run time; keep the two lists the same).
v8.setFlagsFromString('--semi-space-growth-factor=1')

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const source = join(root, 'src', 'runner', 'cli.ts')
const compiled = join(root, 'dist', 'src', 'runner', 'cli.js')

let entry
if (process.env.OTHERTHING_CLI_DIST !== '1' && existsSync(source)) {
  try {
    const { register } = await import('tsx/esm/api')
    register()
    entry = source
  } catch {
    // tsx not installed: fall through to the compiled build
  }
}
if (entry === undefined && existsSync(compiled)) entry = compiled
if (entry === undefined) {
  process.stderr.write('error: otherthing-storage is not built: run `npm run build` (or `npm install` in a checkout)\n')
  process.exit(1)
}
const { main } = await import(pathToFileURL(entry).href)
await main(process.argv.slice(2))
