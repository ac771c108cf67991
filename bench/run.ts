/**
 * `npm run bench -- [scripts...] [--quick] [flags]`: runs the selected bench
 * scripts, prints one table (throughput, ratio to a baseline measured in the
 * same run, peak RSS, target) and writes bench/results/<time>.json.
 */
import '../src/polyfill.js'
import { parseBenchArgs, USAGE, type ScriptName } from './lib/options.js'
import { formatTable, machineInfo, writeResults, type Row, type RunResult } from './lib/report.js'
import { makeTempDir, removeDir } from './lib/files.js'
import type { BenchScript } from './lib/context.js'
import { useCompiledChildren } from './lib/child.js'
import { compileForChildren } from './lib/compile.js'

const SCRIPTS: Record<ScriptName, () => Promise<BenchScript>> = {
  add: async () => (await import('./scripts/add.js')).addBench,
  get: async () => (await import('./scripts/get.js')).getBench,
  pin: async () => (await import('./scripts/pin.js')).pinBench,
  blockstore: async () => (await import('./scripts/blockstore.js')).blockstoreBench,
  'small-files': async () => (await import('./scripts/small-files.js')).smallFilesBench,
  rss: async () => (await import('./scripts/rss.js')).rssBench,
  orchestrator: async () => (await import('./scripts/orchestrator.js')).orchestratorBench,
  'orchestrator-pg': async () => (await import('./scripts/orchestrator-pg.js')).orchestratorPgBench
}

async function main (): Promise<number> {
  let parsed
  try {
    parsed = parseBenchArgs(process.argv.slice(2))
  } catch (err: any) {
    console.error(err.message)
    console.error(USAGE)
    return 2
  }
  if (parsed.help) {
    console.log(USAGE)
    return 0
  }
  const { scripts, options } = parsed
  const startedAt = new Date().toISOString()
  const rows: Row[] = []
  const errors: RunResult['errors'] = []
  const log = (msg: string): void => { process.stderr.write(`[bench] ${msg}\n`) }
  log(`scripts: ${scripts.join(', ')}${options.quick ? ' (--quick)' : ''}`)
  let buildDir: string | undefined
  if (!options.tsxChildren) {
    buildDir = await makeTempDir(options.tmpDir, 'bench-build')
    const t = performance.now()
    await compileForChildren(buildDir)
    useCompiledChildren(buildDir)
    log(`children run transpiled JS from ${buildDir} (${((performance.now() - t) / 1000).toFixed(1)} s to build)`)
  }

  for (const name of scripts) {
    const dir = await makeTempDir(options.tmpDir, `bench-${name}`)
    const t0 = performance.now()
    try {
      const script = await SCRIPTS[name]()
      const got = await script({ options, dir, log })
      rows.push(...got)
      log(`${name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      console.log(`\n${formatTable(got)}\n`)
    } catch (err: any) {
      log(`${name}: FAILED: ${err?.stack ?? String(err)}`)
      errors.push({ script: name, error: err?.message ?? String(err) })
    } finally {
      if (!options.keep) await removeDir(dir)
      else log(`${name}: kept ${dir}`)
    }
  }

  if (buildDir !== undefined) await removeDir(buildDir)

  console.log('\nAll results:\n')
  console.log(formatTable(rows))
  const failed = rows.filter(r => r.pass === false)
  console.log(`\n${rows.filter(r => r.pass === true).length} targets met, ${failed.length} missed${failed.length > 0 ? `: ${failed.map(r => `${r.script}/${r.name}`).join('; ')}` : ''}`)
  if (errors.length > 0) console.log(`${errors.length} script(s) failed: ${errors.map(e => e.script).join(', ')}`)

  const file = await writeResults(options.outDir, {
    startedAt,
    finishedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
    options: { ...options },
    machine: machineInfo(),
    rows,
    errors
  })
  console.log(`results: ${file}`)
  return errors.length > 0 ? 1 : 0
}

process.exitCode = await main()
