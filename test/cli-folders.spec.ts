/**
 * The CLI's folder and content commands as real processes through the bin
 * launcher, against a real node runner: add -r (-H, --wrap-with-directory,
 * symlinks skipped), get of a folder and of a
 * path, ls, pin, unpin, pins, stats, gc, car export|import, --version,
 * --timeout, and get's destination checks before any download.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeRunner } from '../src/runner/node-runner.js'
import { runBin, startTestRunner } from './helpers/bin.js'
import type { TestRunner } from './helpers/bin.js'

const lines = (s: string): string[] => s.split('\n').filter(l => l.trim() !== '')

let fixture: TestRunner
let dir: string
let runner: NodeRunner
let api: string[]
/** Not repeating: every 256 KiB chunk is its own block. */
const beach = randomBytes(700 * 1024)

beforeAll(async () => {
  fixture = await startTestRunner('cli-folders', 'ws-cli-folders')
  ;({ dir, runner, api } = fixture)
  const tree = join(dir, 'album')
  await mkdir(join(tree, 'photos/2026'), { recursive: true })
  await mkdir(join(tree, 'empty'))
  await writeFile(join(tree, 'notes.txt'), 'holiday notes\n')
  await writeFile(join(tree, '.DS_Store'), 'junk')
  await writeFile(join(tree, 'photos/2026/beach.jpg'), beach)
})

afterAll(async () => {
  await fixture?.close()
})

describe('cli (process): folders and content', () => {
  let root: string

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))
    const run = await runBin(['--version'])
    expect(run.code).toBe(0)
    expect(run.stdout.trim()).toBe(pkg.version)
  })

  it('add of a folder without -r is a usage error; add -r uploads it (dot-files skipped) and prints the root', async () => {
    const refused = await runBin(['add', join(dir, 'album'), ...api])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/^error: .*album is a folder: add it with -r\n$/)

    const run = await runBin(['add', '-r', join(dir, 'album'), ...api, '--no-progress'])
    expect(run.stderr).toMatch(/uploaded/)
    expect(run.code).toBe(0)
    root = run.stdout.trim()
    expect(root).toMatch(/^Qm[1-9A-HJ-NP-Za-km-z]{44}$/)
    // the CID Kubo's `ipfs add -r album` gives: the node's own addDirectory, checked against Kubo's importer
    const ws = runner.storageNode.workspace('ws-cli-folders')
    expect((await ws.addDirectory(join(dir, 'album'), { pin: false })).cid.toString()).toBe(root)
  })

  it('add -r -H --wrap-with-directory: dot-files kept, a symlink skipped with a note, the root wraps the folder', async () => {
    const tree = join(dir, 'linked')
    await mkdir(tree)
    await writeFile(join(tree, 'a.txt'), 'a\n')
    await writeFile(join(tree, '.env'), 'hidden\n')
    await symlink('a.txt', join(tree, 'link'))
    // not pinned: the pins test below counts the pins
    const run = await runBin(['add', '-r', '-H', '--wrap-with-directory', '--no-pin', tree, ...api, '--no-progress'])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('skipped linked/link (symlink)')
    const wrapper = run.stdout.trim()
    const ws = runner.storageNode.workspace('ws-cli-folders')
    const names = async (path: string): Promise<string[]> => {
      const out: string[] = []
      for await (const e of ws.ls(path)) out.push(e.name)
      return out.sort()
    }
    expect(await names(wrapper)).toEqual(['linked'])
    expect(await names(`${wrapper}/linked`)).toEqual(['.env', 'a.txt'])
  })

  it('ls lists a folder, and a folder inside it by path', async () => {
    const run = await runBin(['ls', root, ...api])
    expect(run.code).toBe(0)
    const names = lines(run.stdout).map(l => l.split(' ').slice(2).join(' '))
    expect(names.sort()).toEqual(['empty/', 'notes.txt', 'photos/'])
    expect(run.stdout).toMatch(/ 14 notes\.txt\n/)
    const deep = await runBin(['ls', `${root}/photos/2026`, ...api, '--json'])
    expect(JSON.parse(deep.stdout)).toEqual([expect.objectContaining({ name: 'beach.jpg', size: 700 * 1024, type: 'file' })])
  })

  it('get writes the whole folder (empty folders included), or one file by path', async () => {
    const out = join(dir, 'album-copy')
    const run = await runBin(['get', root, out, ...api])
    expect(run.stderr).toMatch(/downloaded/)
    expect(run.code).toBe(0)
    expect((await readdir(out)).sort()).toEqual(['empty', 'notes.txt', 'photos'])
    expect(await readFile(join(out, 'notes.txt'), 'utf8')).toBe('holiday notes\n')
    expect((await readFile(join(out, 'photos/2026/beach.jpg'))).equals(beach)).toBe(true)
    // nothing left beside it
    expect((await readdir(dir)).filter(n => n.endsWith('.part'))).toEqual([])

    const one = join(dir, 'beach.jpg')
    const file = await runBin(['get', `${root}/photos/2026/beach.jpg`, one, ...api])
    expect(file.code).toBe(0)
    expect((await readFile(one)).length).toBe(700 * 1024)
  })

  it('get into an existing folder or under a missing parent: a clear error naming the path, before any download', async () => {
    // the API address is unreachable: reaching it would be another error
    const dead = ['--api', 'http://127.0.0.1:9', '--token', 'x-token-123']
    const existing = await runBin(['get', root, join(dir, 'album'), ...dead])
    expect(existing.code).toBe(2)
    expect(lines(existing.stderr)).toHaveLength(1)
    expect(existing.stderr).toContain(`destination ${join(dir, 'album')} is an existing folder`)
    expect(existing.stderr).not.toMatch(/EISDIR|ENOENT|\.part/)

    const missing = await runBin(['get', root, join(dir, 'no/such/parent/out'), ...dead])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain(`the folder ${join(dir, 'no/such/parent')} does not exist`)
    expect(missing.stderr).not.toMatch(/EISDIR|ENOENT|\.part/)
  })

  it('pins, stats, unpin, gc, pin', async () => {
    const pins = await runBin(['pins', ...api])
    expect(pins.code).toBe(0)
    expect(pins.stdout).toMatch(new RegExp(`^${root} .* album$`, 'm'))
    const stats = await runBin(['stats', ...api])
    expect(stats.code).toBe(0)
    expect(stats.stdout).toMatch(/^quota 64 MiB, used /)
    expect(stats.stdout).toMatch(/ws-cli-folders: .* 1 pins/)

    const unpin = await runBin(['unpin', root, ...api, '--no-gc'])
    expect(unpin.code).toBe(0)
    expect(unpin.stdout).toBe(`unpinned ${root}\n`)
    const gc = await runBin(['gc', ...api])
    expect(gc.code).toBe(0)
    expect(gc.stdout).toMatch(/^removed [1-9]\d* blocks, freed /)
    const none = await runBin(['pins', ...api, '--json'])
    expect(JSON.parse(none.stdout)).toEqual([])
  })

  it('car export then car import brings the folder back, pinned', async () => {
    // add it again, export, drop it, import
    const add = await runBin(['add', '-r', join(dir, 'album'), ...api, '--no-progress'])
    expect(add.stdout.trim()).toBe(root)
    const car = join(dir, 'album.car')
    const exported = await runBin(['car', 'export', root, car, ...api])
    expect(exported.code).toBe(0)
    expect((await readFile(car)).length).toBeGreaterThan(700 * 1024)
    await runBin(['unpin', root, ...api])
    const imported = await runBin(['car', 'import', car, ...api])
    expect(imported.code).toBe(0)
    expect(imported.stdout).toBe(`${root}\n`)
    expect(imported.stderr).toMatch(/^imported \d+ blocks/)
    const pins = await runBin(['pins', ...api, '--json'])
    expect(JSON.parse(pins.stdout).map((p: { cid: string }) => p.cid)).toEqual([root])
  })

  it('--timeout bounds a command: a bad value is a usage error, content nobody has times out', async () => {
    const bad = await runBin(['--timeout', 'soon', 'pins', ...api])
    expect(bad.code).toBe(2)
    expect(lines(bad.stderr)).toHaveLength(1)
    const missing = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const run = await runBin(['--timeout', '500ms', 'get', missing, join(dir, 'never.bin'), ...api])
    expect(run.code).toBe(1)
    expect(lines(run.stderr)).toHaveLength(1)
    expect(run.stderr).toMatch(/ERR_NOT_FOUND|ERR_TIMEOUT/)
  })
})
