/**
 * The CLI, mostly as a real process through the bin launcher (the way users
 * run it), plus a few in-process runs of runCli.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../src/runner/cli.js'
import { generateSwarmKey, parseSwarmKey } from '../src/swarm-key/index.js'
import type { NodeRunner } from '../src/runner/node-runner.js'
import { runBin, startTestRunner } from './helpers/bin.js'
import type { TestRunner } from './helpers/bin.js'

function capture (): { stream: PassThrough, text: () => string } {
  const stream = new PassThrough()
  let text = ''
  stream.setEncoding('utf8').on('data', (d: string) => { text += d })
  return { stream, text: () => text }
}

function lines (s: string): string[] {
  return s.split('\n').filter(l => l.trim() !== '')
}

describe('cli (process)', () => {
  it('keygen prints 64 hex characters by default', async () => {
    const run = await runBin(['keygen'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^[0-9a-f]{64}\n$/)
    expect(run.stderr).toBe('')
  })

  it('keygen --format kubo prints a swarm.key that parses', async () => {
    const run = await runBin(['keygen', '--format', 'kubo'])
    expect(run.code).toBe(0)
    const [header, encoding, hex] = lines(run.stdout)
    expect(header).toBe('/key/swarm/psk/1.0.0/')
    expect(encoding).toBe('/base16/')
    expect(hex).toMatch(/^[0-9a-f]{64}$/)
    expect(parseSwarmKey(run.stdout).hex).toBe(hex)
  })

  it('drives prints a table with mount point, filesystem, size and free', async () => {
    const run = await runBin(['drives'])
    expect(run.code).toBe(0)
    const [head, ...rows] = lines(run.stdout)
    expect(head.split(/\s{2,}/)).toEqual(['MOUNT POINT', 'FILESYSTEM', 'SIZE', 'FREE'])
    expect(rows.length).toBeGreaterThan(0)
    expect(rows[0]).toMatch(/ (B|KiB|MiB|GiB|TiB|PiB)$/)
  })

  it('a bad quota gets one line on stderr and exit code 2', async () => {
    const run = await runBin(['node', '--quota', 'abc'])
    expect(run.code).toBe(2)
    expect(lines(run.stderr)).toHaveLength(1)
    expect(run.stderr).toMatch(/^error: .*quota/)
    expect(run.stdout).toBe('')
  })

  it('a missing file gets one line on stderr and exit code 2', async () => {
    const run = await runBin(['add', join(tmpdir(), `missing-${randomBytes(4).toString('hex')}.bin`), '--api', 'http://127.0.0.1:9'])
    expect(run.code).toBe(2)
    expect(lines(run.stderr)).toHaveLength(1)
    expect(run.stderr).toMatch(/^error: no such file/)
  })

  it('an unknown command or flag exits 2 with one line', async () => {
    const run = await runBin(['keygen', '--format', 'base99'])
    expect(run.code).toBe(2)
    expect(lines(run.stderr)).toHaveLength(1)
  })

  describe('against a running node runner', () => {
    let fixture: TestRunner
    let dir: string
    let runner: NodeRunner

    beforeAll(async () => {
      fixture = await startTestRunner('cli-spec', 'ws-cli')
      ;({ dir, runner } = fixture)
    })

    afterAll(async () => {
      await fixture?.close()
    })

    it('add then get stream a file through the API with progress and throughput', async () => {
      const file = join(dir, 'in.bin')
      const data = randomBytes(3 * 1024 * 1024 + 17)
      await writeFile(file, data)
      const add = await runBin(['add', file, '--api', runner.url, '--token', runner.token as string, '--progress'])
      expect(add.stderr).toMatch(/uploaded 3 MiB in [0-9.]+ s \([0-9.]+ MiB\/s\)/)
      expect(add.code).toBe(0)
      const cid = add.stdout.trim()
      expect(cid).toMatch(/^Qm[1-9A-HJ-NP-Za-km-z]{44}$/)
      expect(add.stderr).toContain('100%')

      const out = join(dir, 'out.bin')
      // no --api/--token: found through the node's node-config.json and node-api.json
      const get = await runBin(['get', cid, out, '--storage', join(dir, 'storage')])
      expect(get.code).toBe(0)
      expect(get.stderr).toMatch(/downloaded 3 MiB in [0-9.]+ s \([0-9.]+ MiB\/s\)/)
      const copy = await readFile(out)
      expect(createHash('sha256').update(copy).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
    })

    it('a wrong token is one line and exit 1', async () => {
      const file = join(dir, 'small.bin')
      await writeFile(file, 'hello')
      const add = await runBin(['add', file, '--api', runner.url, '--token', 'wrong-token-123'])
      expect(add.code).toBe(1)
      expect(lines(add.stderr)).toHaveLength(1)
      expect(add.stderr).toMatch(/ERR_UNAUTHORIZED/)
    })

    it('get of an invalid CID is a usage error', async () => {
      const get = await runBin(['get', 'not-a-cid', join(dir, 'x.bin'), '--api', runner.url, '--token', runner.token as string])
      expect(get.code).toBe(2)
      expect(lines(get.stderr)).toHaveLength(1)
    })
  })

  it('node runs until SIGINT, then stops gracefully and exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-node-'))
    let sent = false
    try {
      const run = await runBin([
        'node', '--storage', join(dir, 's'), '--app-data', join(dir, 'app'), '--quota', '32MiB', '--api-port', '0', '--workspace', 'ws-sig'
      ], {
        env: { OTHERTHING_SWARM_KEY: generateSwarmKey() },
        onStdout: (text, kill) => {
          // one SIGINT (a second one would force an immediate exit 130)
          if (!sent && text.includes('press Ctrl+C')) { sent = true; kill('SIGINT') }
        }
      })
      expect(run.stdout).toMatch(/node API: http:\/\/127\.0\.0\.1:\d+/)
      expect(run.stdout).toContain('stopped')
      expect(run.code).toBe(0)
      const config = JSON.parse(await readFile(join(dir, 's', 'otherthing-storage', 'node-config.json'), 'utf8'))
      expect(config.quotaBytes).toBe(32 * 2 ** 20)
      expect(typeof config.apiToken).toBe('string')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
  it('node --storage with a relative path keeps its data there, against the working directory (not in the app-data folder)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-rel-'))
    let sent = false
    try {
      const run = await runBin([
        'node', '--storage', './laptop', '--app-data', join(dir, 'app'), '--quota', '32MiB', '--api-port', '0', '--workspace', 'ws-rel'
      ], {
        cwd: dir,
        env: { OTHERTHING_SWARM_KEY: generateSwarmKey() },
        onStdout: (text, kill) => { if (!sent && text.includes('press Ctrl+C')) { sent = true; kill('SIGINT') } }
      })
      expect(run.code).toBe(0)
      expect(run.stdout).toContain(`storage: ${join(dir, 'laptop', 'otherthing-storage')}`)
      const config = JSON.parse(await readFile(join(dir, 'laptop', 'otherthing-storage', 'node-config.json'), 'utf8'))
      expect(config.storagePath).toBe(join(dir, 'laptop'))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('cli orchestrator (process)', () => {
  it('runs until SIGINT with its database where --db says, then exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-orch-'))
    let sent = false
    try {
      const run = await runBin(['orchestrator', '--port', '0', '--db', join(dir, 'o.db')], {
        onStdout: (text, kill) => { if (!sent && text.includes('press Ctrl+C')) { sent = true; kill('SIGTERM') } }
      })
      expect(run.stdout).toMatch(/orchestrator \(nodes\): ws:\/\/127\.0\.0\.1:\d+\/ws/)
      expect(run.stdout).toMatch(/admin API: http:\/\/127\.0\.0\.1:\d+/)
      expect(run.code).toBe(0)
      await expect(readFile(join(dir, 'o.db'))).resolves.toBeInstanceOf(Buffer)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('cli (in-process)', () => {
  it('runCli keygen writes to the given stdout', async () => {
    const out = capture()
    const err = capture()
    const code = await runCli(['keygen'], { stdout: out.stream, stderr: err.stream })
    expect(code).toBe(0)
    expect(out.text()).toMatch(/^[0-9a-f]{64}\n$/)
  })

  it('runCli returns 2 for a bad port, with one line', async () => {
    const out = capture()
    const err = capture()
    const code = await runCli(['node', '--api-port', '70000'], { stdout: out.stream, stderr: err.stream })
    expect(code).toBe(2)
    expect(lines(err.text())).toHaveLength(1)
  })

  it('runCli node --workspace without a key is a usage error', async () => {
    const err = capture()
    const code = await runCli(['node', '--workspace', 'ws1'], { stdout: capture().stream, stderr: err.stream, env: {} })
    expect(code).toBe(2)
    expect(err.text()).toMatch(/^error: .*swarm key/)
  })

  it('--help exits 0', async () => {
    const out = capture()
    const code = await runCli(['--help'], { stdout: out.stream, stderr: capture().stream })
    expect(code).toBe(0)
    expect(out.text()).toContain('keygen')
  })
})
