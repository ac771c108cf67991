/**
 * The base36 text of a block record's key (`/pinned-block/<base36 multihash>`, Helia's own
 * format), made without base-x: its per-call digit buffer and one string concatenation per
 * character cost a few allocations per block, and a folder pin writes 100,000+ records.
 * The same text as multiformats' `base36.encode` (multibase prefix `k`, a `0` per leading zero
 * byte, then the number in base 36, lower case): test/pin-key.spec.ts compares them.
 */
export function base36Text (bytes: Uint8Array): string {
  let zeros = 0
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++
  const lead = zeros === 0 ? 'k' : `k${'0'.repeat(zeros)}`
  if (zeros === bytes.length) return lead
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset + zeros, bytes.byteLength - zeros).toString('hex')
  return lead + BigInt(`0x${hex}`).toString(36)
}
