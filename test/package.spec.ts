/**
 * The published package: exports map, subpath entry points, what the root
 * loads (no server code for a storage-node-only user), and what its types need.
 * Runs against dist/ (built here when missing or older than src/).
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const SUBPATHS = ['node', 'blockstore', 'orchestrator', 'server', 'gateway', 'runner', 'dashboard'] as const
/** Packages a user who only wants a storage node must not load through the root export. */
const SERVER_PACKAGES = ['fastify', 'better-sqlite3', 'commander', 'pino', '@fastify/multipart', 'cli-progress']

function newestMtime (dir: string): number {
  let newest = 0
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const st = statSync(path)
    newest = Math.max(newest, st.isDirectory() ? newestMtime(path) : st.mtimeMs)
  }
  return newest
}

async function ensureBuilt (): Promise<void> {
  const entries = ['index.js', ...SUBPATHS.map(a => `${a}/index.js`)].map(e => join(root, 'dist', 'src', e))
  const stale = entries.some(e => !existsSync(e) || statSync(e).mtimeMs < newestMtime(join(root, 'src')))
  if (stale) await run('npm', ['run', 'build'], { cwd: root })
}

/** Runs an ESM script in a child node (cwd: the package, so `otherthing-storage` resolves to itself). */
async function node (script: string, args: string[] = []): Promise<string> {
  const { stdout } = await run(process.execPath, [...args, '--input-type=module', '-e', script], { cwd: root })
  return stdout
}

describe('the package', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

  beforeAll(ensureBuilt, 180_000)

  it('is an ESM package for Node 20+ whose exports point at dist/', () => {
    expect(pkg.name).toBe('otherthing-storage')
    expect(pkg.type).toBe('module')
    expect(pkg.engines.node).toBe('>=20')
    expect(pkg.exports['.'].import).toBe('./dist/src/index.js')
    expect(pkg.exports['.'].types).toBe('./dist/src/index.d.ts')
    for (const area of SUBPATHS) {
      expect(pkg.exports[`./${area}`]).toEqual({ types: `./dist/src/${area}/index.d.ts`, import: `./dist/src/${area}/index.js` })
    }
    expect(pkg.overrides.undici).toMatch(/^\^7\./)
  })

  it('imports by its own name after a build (npm install runs the build through `prepare`)', async () => {
    const script = [
      "import { parseSwarmKey, generateSwarmKey, createStorageNode, createOrchestratorClient, QuotaExceededError } from 'otherthing-storage'",
      "import { createOrchestrator } from 'otherthing-storage/orchestrator'",
      'const key = parseSwarmKey(generateSwarmKey())',
      'console.log(JSON.stringify({ fp: key.fingerprint, node: typeof createStorageNode, client: typeof createOrchestratorClient, orch: typeof createOrchestrator, code: new QuotaExceededError(1, 2, 3).code, withResolvers: typeof Promise.withResolvers }))'
    ].join('\n')
    const out = JSON.parse(await node(script))
    expect(out.fp).toMatch(/^[0-9a-f]{16}$/)
    expect(out.node).toBe('function')
    expect(out.client).toBe('function')
    expect(out.orch).toBe('function')
    expect(out.code).toBe('ERR_QUOTA_EXCEEDED')
    expect(out.withResolvers).toBe('function')
  }, 120_000)

  it('serves each area from its subpath, each loading the Node 20 polyfill', async () => {
    const expected: Record<typeof SUBPATHS[number], string[]> = {
      node: ['createStorageNode', 'createWorkspaceNode', 'PROFILES'],
      blockstore: ['createQuotaLedger', 'createQuotaBlockstore', 'scanFsBlockstore'],
      orchestrator: ['createOrchestrator', 'buildAdminApp', 'CLOSE_CODES', 'openOrchestratorStore'],
      runner: ['buildApp', 'startNodeRunner', 'runCli', 'main', 'createLogger', 'registerIpcHandlers', 'IPFSManager', 'runDemo', 'uploadFile'],
      server: ['createOrchestratorServer'],
      gateway: ['createWorkspaceGateway', 'swarmKeyFromDatabase'],
      dashboard: ['createDashboardServer', 'buildDashboardApp', 'registerDashboard']
    }
    for (const area of SUBPATHS) {
      const script = `const m = await import('otherthing-storage/${area}'); console.log(JSON.stringify({ names: Object.keys(m), withResolvers: typeof Promise.withResolvers }))`
      const out = JSON.parse(await node(script))
      expect(out.withResolvers, area).toBe('function')
      for (const name of expected[area]) expect(out.names, `${area} exports ${name}`).toContain(name)
    }
  }, 120_000)

  it('keeps the server parts out of the root export', async () => {
    const names = JSON.parse(await node("console.log(JSON.stringify(Object.keys(await import('otherthing-storage'))))"))
    for (const moved of ['createOrchestrator', 'createOrchestratorServer', 'createWorkspaceGateway', 'buildApp', 'startNodeRunner', 'runCli', 'createLogger', 'createDashboardServer', 'IPFSManager']) {
      expect(names, `${moved} is not in the root export`).not.toContain(moved)
    }
  }, 60_000)

  /** Every package an import of `specifier` loads, seen by an ESM resolve hook and the CommonJS cache. */
  async function packagesLoadedBy (specifier: string, then = ''): Promise<Set<string>> {
    const dir = await mkdtemp(join(tmpdir(), 'package-loads-'))
    try {
      const log = join(dir, 'resolved.txt')
      await writeFile(join(dir, 'hooks.mjs'), [
        "import { appendFileSync } from 'node:fs'",
        'let out',
        'export function initialize (data) { out = data.out }',
        'export async function resolve (specifier, context, next) {',
        '  const result = await next(specifier, context)',
        "  appendFileSync(out, result.url + '\\n')",
        '  return result',
        '}'
      ].join('\n'))
      await writeFile(join(dir, 'register.mjs'), [
        "import { register } from 'node:module'",
        `register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { out: ${JSON.stringify(log)} } })`
      ].join('\n'))
      const script = [
        "import { createRequire } from 'node:module'",
        `const mod = await import(${JSON.stringify(specifier)})`,
        then,
        'console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)))'
      ].join('\n')
      const required: string[] = JSON.parse(await node(script, ['--import', join(dir, 'register.mjs')]))
      const resolved = readFileSync(log, 'utf8').split('\n').filter(Boolean).map(u => u.startsWith('file:') ? fileURLToPath(u) : u)
      const packages = new Set<string>()
      for (const file of [...resolved, ...required]) {
        const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)
        if (m != null) packages.add(m[1])
      }
      return packages
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  it('loads no fastify, better-sqlite3, commander or pino through the root export', async () => {
    const fromRoot = await packagesLoadedBy('otherthing-storage')
    expect(fromRoot.has('libp2p'), 'the probe sees what the root loads').toBe(true)
    for (const name of SERVER_PACKAGES) expect(fromRoot.has(name), `${name} loaded by the root export`).toBe(false)
    // the same probe does see them where they belong
    const server = await packagesLoadedBy('otherthing-storage/server')
    for (const name of ['fastify', 'better-sqlite3']) expect(server.has(name), `${name} loaded by ./server`).toBe(true)
  }, 120_000)

  it('a started workspace node loads none of the public-network services of Helia\'s default configuration', async () => {
    const started = await packagesLoadedBy('otherthing-storage', [
      "const { mkdtemp, rm } = await import('node:fs/promises')",
      "const dir = await mkdtemp((await import('node:os')).tmpdir() + '/package-start-')",
      "const node = await mod.createStorageNode({ storagePath: dir, quotaBytes: 1 << 30, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })",
      "await node.join('w', mod.generateSwarmKey())",
      'await node.stop()',
      'await rm(dir, { recursive: true, force: true })'
    ].join('\n'))
    expect(started.has('helia'), 'the Helia class is loaded').toBe(true)
    for (const name of ['@helia/http', '@libp2p/kad-dht', '@libp2p/webrtc', 'node-datachannel', '@libp2p/circuit-relay-v2', '@libp2p/autonat', '@libp2p/mdns', '@ipshipyard/libp2p-auto-tls']) {
      expect(started.has(name), `${name} loaded by a started node`).toBe(false)
    }
  }, 120_000)

  it('publishes types whose packages are installed for users (no devDependency types)', () => {
    const dev = new Set(Object.keys(pkg.devDependencies))
    const deps = new Set(Object.keys(pkg.dependencies))
    const offenders: string[] = []
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name)
        if (statSync(path).isDirectory()) { walk(path); continue }
        if (!name.endsWith('.d.ts')) continue
        const code = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
        for (const m of code.matchAll(/from ['"]([^'".][^'"]*)['"]|import\(['"]([^'".][^'"]*)['"]\)/g)) {
          const spec = m[1] ?? m[2]
          if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0])) continue
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]
          const typesName = `@types/${name.replace(/^@/, '').replace('/', '__')}`
          // the package must be a dependency, and so must its @types package when it has one declared
          if (!deps.has(name) || dev.has(typesName)) offenders.push(`${path.slice(root.length)}: ${spec}`)
        }
      }
    }
    walk(join(root, 'dist', 'src'))
    expect(offenders).toEqual([])
  })
})
