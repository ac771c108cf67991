/**
 * Every ```ts example in README.md and docs/*.md works as written:
 * - after `<!-- run -->` it runs (tsx, against src/ through the package name, its own temp folder
 *   as cwd, with a timeout; all of them one after the other in one process) and must not throw;
 *   it is also type-checked;
 * - by default it is type-checked (tsc, strict) as a module importing the package by name;
 *   a `<!-- check: <declarations> -->` comment before it declares what the example takes as given
 *   (e.g. `declare const ws: WorkspaceNode`), invisible to readers;
 * - `<!-- skip: <reason> -->` leaves it out (say why, e.g. needs Electron).
 * Also: the README's architecture diagram lists every folder of src/, and no src/ file is over 400 lines.
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
/** What a failed `execFile` rejects with. */
interface ExecError { code?: number | string, signal?: string, stdout?: string, stderr?: string }
const root = fileURLToPath(new URL('..', import.meta.url))
const RUN_TIMEOUT_MS = 60_000

interface Example {
  file: string
  line: number
  mode: 'run' | 'check' | 'skip'
  prelude: string
  code: string
}

async function docFiles (): Promise<string[]> {
  const docs = (await readdir(join(root, 'docs'))).filter(n => n.endsWith('.md')).sort().map(n => `docs/${n}`)
  return ['README.md', ...docs]
}

function examplesOf (file: string, text: string): Example[] {
  const out: Example[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```')
    if (end < 0) throw new Error(`${file}:${i + 1}: unterminated code block`)
    // the marker is the HTML comment that ends on the line before the fence
    let mode: Example['mode'] = 'check'
    let prelude = ''
    if (i > 0 && lines[i - 1].trim().endsWith('-->')) {
      let start = i - 1
      while (start > 0 && !lines[start].includes('<!--')) start--
      const comment = lines.slice(start, i).join('\n').replace(/^\s*<!--/, '').replace(/-->\s*$/, '').trim()
      const m = /^(run|check|skip)\b:?([\s\S]*)$/.exec(comment)
      if (m != null) {
        mode = m[1] as Example['mode']
        prelude = mode === 'skip' ? '' : m[2].trim()
        if (mode === 'skip' && m[2].trim() === '') throw new Error(`${file}:${i + 1}: <!-- skip: --> needs a reason`)
      }
    }
    out.push({ file, line: i + 2, mode, prelude, code: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return out
}

const examples: Example[] = []
for (const file of await docFiles()) examples.push(...examplesOf(file, await readFile(join(root, file), 'utf8')))

/** A temp folder where `otherthing-storage[/area]` maps to src/ and other packages resolve from ours. */
async function sandbox (prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2023', 'DOM'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
      paths: {
        'otherthing-storage': [join(root, 'src/index.ts')],
        'otherthing-storage/*': [join(root, 'src/*/index.ts')]
      }
    },
    include: ['**/*.mts']
  }, null, 2))
  return dir
}

function moduleText (e: Example): string {
  // `export {}` makes each file a module (top-level await, no clashes between examples)
  return `${e.prelude}\n${e.code}\nexport {}\n`
}

const label = (e: Example): string => `${e.file}:${e.line}`
const fileName = (e: Example): string => `${e.file.replace(/[/.]/g, '_')}_${e.line}.mts`

describe('documentation examples', () => {
  it('are found, and the README has runnable ones', () => {
    expect(examples.length).toBeGreaterThan(10)
    expect(examples.filter(e => e.file === 'README.md' && e.mode === 'run').length).toBeGreaterThan(0)
  })

  it('import the package only through its exported paths', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'))
    const exported = new Set(Object.keys(pkg.exports).map((k: string) => k === '.' ? 'otherthing-storage' : `otherthing-storage/${k.slice(2)}`))
    for (const e of examples) {
      for (const m of e.code.matchAll(/from '([^']+)'/g)) {
        expect(m[1].startsWith('.'), `${label(e)} imports a relative path: ${m[1]}`).toBe(false)
        if (m[1].startsWith('otherthing-storage')) expect(exported.has(m[1]), `${label(e)} imports ${m[1]}`).toBe(true)
      }
    }
  })

  // All runnable examples run one after the other in ONE tsx process (each in its own folder, made the
  // cwd while it runs): loading Helia and libp2p once instead of once per example saves most of the time.
  describe('runnable ones run', () => {
    const runnable = examples.filter(e => e.mode === 'run')
    let dir: string
    let results = new Map<string, { ok: boolean, error?: string }>()
    let harnessOutput = ''

    beforeAll(async () => {
      dir = await sandbox('docs-run-')
      const jobs: Array<{ label: string, dir: string, file: string }> = []
      for (const e of runnable) {
        const exampleDir = join(dir, fileName(e).replace(/\.mts$/, ''))
        await mkdir(exampleDir)
        const file = join(exampleDir, 'example.mts')
        await writeFile(file, moduleText(e))
        jobs.push({ label: label(e), dir: exampleDir, file })
      }
      await writeFile(join(dir, 'harness.mts'), [
        "import { pathToFileURL } from 'node:url'",
        `const jobs: Array<{ label: string, dir: string, file: string }> = ${JSON.stringify(jobs)}`,
        'const results: Record<string, { ok: boolean, error?: string }> = {}',
        'for (const job of jobs) {',
        '  process.chdir(job.dir)',
        '  let timer: NodeJS.Timeout | undefined',
        '  const timeout = new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timed out after ${RUN_TIMEOUT_MS} ms`)) }, RUN_TIMEOUT_MS) })',
        '  try {',
        '    await Promise.race([import(pathToFileURL(job.file).href), timeout])',
        '    results[job.label] = { ok: true }',
        '  } catch (err) {',
        '    results[job.label] = { ok: false, error: String((err as Error)?.stack ?? err) }',
        '  } finally {',
        '    clearTimeout(timer)',
        '  }',
        '}',
        "process.stdout.write('\\n@@RESULTS@@' + JSON.stringify(results) + '\\n')",
        'process.exit(0)'
      ].join('\n').replace(/RUN_TIMEOUT_MS/g, String(RUN_TIMEOUT_MS)))
      const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs')
      try {
        const { stdout, stderr } = await run(process.execPath, [tsx, '--tsconfig', join(dir, 'tsconfig.json'), join(dir, 'harness.mts')], {
          cwd: dir,
          timeout: RUN_TIMEOUT_MS * 4,
          killSignal: 'SIGKILL',
          maxBuffer: 16 * 2 ** 20,
          env: { ...process.env, NODE_OPTIONS: '' }
        })
        harnessOutput = `${stdout}${stderr}`
      } catch (caught) {
        const err = caught as ExecError
        harnessOutput = `harness failed (${err.code ?? err.signal}):\n${err.stdout ?? ''}${err.stderr ?? ''}`
      }
      const marker = harnessOutput.lastIndexOf('@@RESULTS@@')
      if (marker >= 0) results = new Map(Object.entries(JSON.parse(harnessOutput.slice(marker + 11).split('\n')[0])))
    }, RUN_TIMEOUT_MS * 4 + 30_000)
    afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

    for (const e of runnable) {
      it(label(e), () => {
        const result = results.get(label(e))
        if (result == null) throw new Error(`${label(e)} did not run:\n${harnessOutput.slice(-4000)}`)
        if (!result.ok) throw new Error(`${label(e)} failed: ${result.error}`)
      })
    }
  })

  describe('the others type-check', () => {
    let dir: string
    let output = ''
    beforeAll(async () => {
      dir = await sandbox('docs-check-')
      for (const e of examples.filter(e => e.mode !== 'skip')) await writeFile(join(dir, fileName(e)), moduleText(e))
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
      try {
        await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, maxBuffer: 16 * 2 ** 20 })
      } catch (caught) {
        const err = caught as ExecError
        output = `${err.stdout ?? ''}${err.stderr ?? ''}` || String(caught)
      }
    }, 180_000)
    afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

    for (const e of examples.filter(e => e.mode !== 'skip')) {
      it(label(e), () => {
        const errors = output.split('\n').filter(l => l.startsWith(fileName(e)))
        expect(errors, `${label(e)}: tsc errors`).toEqual([])
      })
    }
    it('tsc reported nothing outside the examples', () => {
      const stray = output.split('\n').filter(l => /error TS/.test(l) && !examples.some(e => l.startsWith(fileName(e))))
      expect(stray).toEqual([])
    })
  })
})

describe('the README architecture diagram', () => {
  it('lists every folder of src/ (and nothing that is not there)', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8')
    const diagram = /## Architecture\n\n```\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
    const listed = [...diagram.matchAll(/^ {2}([a-z0-9-]+)\/\s/gm)].map(m => m[1]).sort()
    const entries = await readdir(join(root, 'src'), { withFileTypes: true })
    const folders = entries.filter(d => d.isDirectory()).map(d => d.name).sort()
    expect(listed).toEqual(folders)
  })

  it('lists every subfolder of src/node/ under node/', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8')
    const diagram = /## Architecture\n\n```\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
    const nodeBlock = /^ {2}node\/.*\n((?: {4}.*\n)*)/m.exec(diagram)?.[1] ?? ''
    const listed = [...nodeBlock.matchAll(/^ {4}([a-z0-9-]+)\/\s/gm)].map(m => m[1]).sort()
    const entries = await readdir(join(root, 'src', 'node'), { withFileTypes: true })
    expect(listed).toEqual(entries.filter(d => d.isDirectory()).map(d => d.name).sort())
  })
})

describe('the source layout', () => {
  it("keeps every src/ file at 400 lines or fewer (small modules with one job each, as the README's conventions say)", async () => {
    const over: string[] = []
    const walk = async (dir: string): Promise<void> => {
      for (const d of await readdir(dir, { withFileTypes: true })) {
        const file = join(dir, d.name)
        if (d.isDirectory()) await walk(file)
        else if (d.name.endsWith('.ts')) {
          const lines = (await readFile(file, 'utf8')).split('\n').length - 1
          if (lines > 400) over.push(`${relative(root, file)} (${lines})`)
        }
      }
    }
    await walk(join(root, 'src'))
    expect(over).toEqual([])
  })
})
