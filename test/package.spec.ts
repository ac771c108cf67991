import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = new URL('..', import.meta.url)

describe('the package', () => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))

  it('is an ESM package for Node 20+ whose exports point at dist/', () => {
    expect(pkg.name).toBe('otherthing-storage')
    expect(pkg.type).toBe('module')
    expect(pkg.engines.node).toBe('>=20')
    expect(pkg.exports['.'].import).toBe('./dist/src/index.js')
    expect(pkg.exports['.'].types).toBe('./dist/src/index.d.ts')
    expect(pkg.overrides.undici).toMatch(/^\^7\./)
  })

  it('imports by its own name after a build (npm install runs the build through `prepare`)', async () => {
    if (!existsSync(new URL('dist/src/index.js', root))) {
      await run('npm', ['run', 'build'], { cwd: root })
    }
    const script = [
      "import { parseSwarmKey, generateSwarmKey, createStorageNode, createOrchestrator, QuotaExceededError } from 'otherthing-storage'",
      'const key = parseSwarmKey(generateSwarmKey())',
      "console.log(JSON.stringify({ fp: key.fingerprint, node: typeof createStorageNode, orch: typeof createOrchestrator, code: new QuotaExceededError(1, 2, 3).code, withResolvers: typeof Promise.withResolvers }))"
    ].join('\n')
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root })
    const out = JSON.parse(stdout)
    expect(out.fp).toMatch(/^[0-9a-f]{16}$/)
    expect(out.node).toBe('function')
    expect(out.orch).toBe('function')
    expect(out.code).toBe('ERR_QUOTA_EXCEEDED')
    expect(out.withResolvers).toBe('function')
  }, 120_000)
})
