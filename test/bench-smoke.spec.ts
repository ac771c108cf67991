/**
 * Smoke test of the bench helpers' pure functions (the benches themselves are
 * not part of `npm test`; run them with `npm run bench`).
 */
import { describe, it, expect } from 'vitest'
import { parseBenchArgs, SCRIPT_NAMES } from '../bench/lib/options.js'
import { compare, formatTable, mibPerSec, withinLimit, MiB, type Row } from '../bench/lib/report.js'
import { rewriteTsSpecifiers } from '../bench/lib/compile.js'
import { bucketOf, summarise } from '../bench/profile-summary.js'
import { stallRow } from '../bench/scripts/pin.js'
import { median } from '../bench/lib/context.js'

describe('bench helpers', () => {
  it('parses script names and flags, with --quick defaults', () => {
    const all = parseBenchArgs([])
    expect(all.scripts).toEqual([...SCRIPT_NAMES])
    expect(all.options.size).toBe(256 * MiB)
    const p = parseBenchArgs(['add', 'pin', '--quick', '--transfers', '7', '--size', '8MiB'], '/tmp')
    expect(p.scripts).toEqual(['add', 'pin'])
    expect(p.options.quick).toBe(true)
    expect(p.options.transfers).toBe(7)
    expect(p.options.size).toBe(8 * MiB)
    expect(p.options.outDir).toBe('/tmp/bench/results')
    expect(() => parseBenchArgs(['nope'])).toThrow(/Unknown bench script/)
    expect(() => parseBenchArgs(['--transfers', '-1'])).toThrow()
    expect(() => parseBenchArgs(['--bogus'])).toThrow()
  })

  it('computes throughput, ratios and targets', () => {
    expect(mibPerSec(100 * MiB, 1000)).toBeCloseTo(100)
    const base: Row = { script: 'add', name: 'sha256sum', bytes: 100 * MiB, ms: 1000 }
    const ours = compare({ script: 'add', name: 'add', bytes: 100 * MiB, ms: 2000 }, base, 1.0, 'sha256sum')
    expect(ours.ratio).toBeCloseTo(0.5)
    expect(ours.pass).toBe(false)
    expect(ours.target).toBe('>= 1.00x sha256sum')
    const items = compare({ script: 's', name: 'a', items: 200, ms: 1000 }, { script: 's', name: 'b', items: 100, ms: 1000 })
    expect(items.ratio).toBeCloseTo(2)
    expect(withinLimit({ script: 'rss', name: 'x', ms: 1, peakRssBytes: 100 * MiB }, 'rss', 200 * MiB, '< 200 MiB').pass).toBe(true)
    expect(withinLimit({ script: 'rss', name: 'x', ms: 1 }, 'rss', 200 * MiB, '< 200 MiB').pass).toBe(false)
    const table = formatTable([base, ours])
    expect(table.split('\n')).toHaveLength(4)
    expect(table).toContain('0.50x')
  })

  it('reports stalls among consecutive transfers', () => {
    const ok = stallRow('pin', [{ ms: 10 }, { ms: 30 }, { ms: 20 }], MiB, 1000)
    expect(ok.pass).toBe(true)
    expect(ok.note).toContain('10/20/30')
    const bad = stallRow('pin', [{ ms: 10 }, { error: 'timed out' }], MiB, 1000)
    expect(bad.pass).toBe(false)
    expect(bad.note).toMatch(/^1 stalls/)
    expect(median([3, 1, 2, 4])).toBe(2.5)
  })

  it('rewrites .ts import specifiers for the transpiled children', () => {
    expect(rewriteTsSpecifiers(`import x from './a.ts'\nawait import("../b/c.ts")`)).toBe(`import x from './a.js'\nawait import("../b/c.js")`)
    expect(rewriteTsSpecifiers(`const e = '.ts'; import 'pkg.ts'`)).toBe(`const e = '.ts'; import 'pkg.ts'`)
  })

  it('summarises a CPU profile by self time', () => {
    const profile = {
      startTime: 0,
      endTime: 3000,
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
        { id: 2, callFrame: { functionName: 'salsaCore', url: 'file:///r/node_modules/@noble/ciphers/salsa.js', lineNumber: 35 } },
        { id: 3, callFrame: { functionName: 'put', url: 'file:///r/src/blockstore/quota-blockstore.js', lineNumber: 9 } }
      ],
      samples: [2, 2, 3],
      timeDeltas: [1000, 1000, 1000]
    }
    const s = summarise(profile)
    expect(s.totalMs).toBeCloseTo(3)
    expect(s.buckets[0]).toMatchObject({ key: 'pkg:@noble/ciphers' })
    expect(s.functions[0].key).toContain('salsaCore')
    expect(bucketOf('node:internal/fs')).toBe('node: internals')
    expect(bucketOf('file:///r/src/node/pnet.js')).toBe('src/node')
  })
})
