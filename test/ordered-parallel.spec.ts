/**
 * orderedParallel: results in input order, at most `concurrency` calls in flight (the bound
 * it-parallel's ordered mode does not keep), and the calls already started are waited for
 * when the consumer stops or a call fails.
 */
import { describe, expect, it } from 'vitest'
import { orderedParallel } from '../src/blockstore/ordered-parallel.js'

/** Resolves after `n` turns of the event loop (no timers). */
async function turns (n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>(resolve => { setImmediate(resolve) })
}

describe('orderedParallel', () => {
  it('keeps input order and never runs more than `concurrency` calls at once', async () => {
    let inFlight = 0
    let max = 0
    const out: number[] = []
    async function * source (): AsyncGenerator<number> { for (let i = 0; i < 500; i++) yield i }
    for await (const r of orderedParallel(source(), async (i) => {
      inFlight++
      max = Math.max(max, inFlight)
      await turns((i * 7919) % 5)
      inFlight--
      return i
    }, 16)) out.push(r)
    expect(out).toEqual(Array.from({ length: 500 }, (_, i) => i))
    expect(max).toBeLessThanOrEqual(16)
    expect(max).toBeGreaterThan(1)
  })

  it('a failing call: the error comes out in order, and the calls started are settled first', async () => {
    let running = 0
    const seen: number[] = []
    const run = async (): Promise<void> => {
      for await (const r of orderedParallel([0, 1, 2, 3, 4, 5], async (i) => {
        running++
        try {
          await turns(i === 2 ? 1 : 3)
          if (i === 2) throw new Error('boom')
          return i
        } finally {
          running--
        }
      }, 4)) seen.push(r)
    }
    await expect(run()).rejects.toThrow('boom')
    expect(seen).toEqual([0, 1])
    expect(running).toBe(0)
  })
})
