/**
 * The block record keys of the pin store (src/node/pins/pin-key.ts): the same base36 text as
 * multiformats' `base36.encode`, which Helia uses for `/pinned-block/<multihash>`, so repos
 * written by either read the same.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { base36 } from 'multiformats/bases/base36'
import { base36Text } from '../src/node/pins/pin-key.js'

describe('base36Text', () => {
  it('matches base36.encode for multihashes, leading zeros, all zeros and the empty input', () => {
    const inputs: Uint8Array[] = [new Uint8Array(0), new Uint8Array(1), new Uint8Array(5), Uint8Array.of(0, 0, 1), Uint8Array.of(255), Uint8Array.of(0, 255, 0)]
    for (let i = 0; i < 500; i++) {
      const b = randomBytes(1 + (i % 70))
      if (i % 5 === 0) b[0] = 0
      if (i % 10 === 0 && b.length > 1) b[1] = 0
      inputs.push(b)
      inputs.push(Buffer.concat([Uint8Array.of(0x12, 0x20), randomBytes(32)]))
    }
    for (const b of inputs) expect(base36Text(b)).toBe(base36.encode(b))
  })

  it('reads only the view it is given (an offset into a larger buffer)', () => {
    const big = randomBytes(100)
    const view = big.subarray(10, 44)
    expect(base36Text(view)).toBe(base36.encode(new Uint8Array(view)))
  })
})
