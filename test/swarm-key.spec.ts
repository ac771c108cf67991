import { inspect } from 'node:util'
import { generateKey, preSharedKey } from '@libp2p/pnet'
import { defaultLogger } from '@libp2p/logger'
import { describe, expect, it } from 'vitest'
import { formatSwarmKey, generateSwarmKey, parseSwarmKey, swarmKeyToPsk } from '../src/swarm-key/index.js'

const HEX = '0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0'
const HEADER = '/key/swarm/psk/1.0.0/'

function expectInvalid (input: any): Error {
  let caught: any
  try {
    parseSwarmKey(input)
  } catch (err) {
    caught = err
  }
  expect(caught).toBeDefined()
  expect(caught.name).toBe('InvalidSwarmKeyError')
  expect(caught.code).toBe('ERR_INVALID_SWARM_KEY')
  return caught
}

describe('swarm keys', () => {
  it('generates 64 lowercase hex chars, different every time', () => {
    const a = generateSwarmKey()
    const b = generateSwarmKey()
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(b).not.toBe(a)
  })

  it('parses the hex form (any case, surrounding white space)', () => {
    const key = parseSwarmKey(`  ${HEX.toUpperCase()}\n`)
    expect(key.hex).toBe(HEX)
    expect(key.bytes).toEqual(Uint8Array.from(Buffer.from(HEX, 'hex')))
  })

  it('parses Kubo swarm.key text in base16, base64 and bin, with any line endings', () => {
    const raw = Buffer.from(HEX, 'hex')
    const inputs: Array<string | Uint8Array> = [
      `${HEADER}\n/base16/\n${HEX}`,
      `${HEADER}\n/base16/\n${HEX}\n`,
      `${HEADER}\r\n/base16/\r\n${HEX}\r\n`,
      `${HEADER}\r/base16/\r${HEX}  \t\n`,
      `${HEADER}\n/base64/\n${raw.toString('base64')}\n`,
      Buffer.concat([Buffer.from(`${HEADER}\n/bin/\n`), raw]),
      Buffer.concat([Buffer.from(`${HEADER}\r\n/bin/\r\n`), raw, Buffer.from('\n')]),
      Buffer.concat([Buffer.from(`${HEADER}\n/bin/\n`), raw]).toString('latin1'),
      new TextEncoder().encode(`${HEADER}\n/base16/\n${HEX}`),
      raw
    ]
    for (const input of inputs) {
      expect(parseSwarmKey(input).hex).toBe(HEX)
    }
  })

  it('formats base16 as exactly the 95 bytes Kubo and @libp2p/pnet read', () => {
    const text = formatSwarmKey(HEX)
    expect(text).toBe(`${HEADER}\n/base16/\n${HEX}`)
    expect(Buffer.byteLength(text)).toBe(95)
    expect(swarmKeyToPsk(HEX)).toEqual(new TextEncoder().encode(text))
  })

  it('round-trips every encoding', () => {
    const hex = generateSwarmKey()
    expect(parseSwarmKey(formatSwarmKey(hex, 'base16')).hex).toBe(hex)
    expect(parseSwarmKey(formatSwarmKey(hex, 'base64')).hex).toBe(hex)
    expect(parseSwarmKey(formatSwarmKey(hex, 'bin')).hex).toBe(hex)
  })

  it('reads keys written by @libp2p/pnet and writes keys it accepts', () => {
    const theirs = new Uint8Array(95)
    generateKey(theirs)
    const key = parseSwarmKey(theirs)
    expect(formatSwarmKey(key)).toBe(new TextDecoder().decode(theirs))
    // preSharedKey() decodes the psk eagerly: it throws on a key it cannot read
    // (its factory is typed as taking no arguments, but it is called with the node's components)
    const protector = (psk: Uint8Array): unknown => (preSharedKey({ psk }) as unknown as (components: unknown) => unknown)({ logger: defaultLogger() })
    expect(() => protector(swarmKeyToPsk(generateSwarmKey()))).not.toThrow()
    expect(() => protector(new TextEncoder().encode(`${HEADER}\n/base16/\nzz`))).toThrow()
  })

  it('rejects bad input with InvalidSwarmKeyError, never echoing the key', () => {
    const short = HEX.slice(0, 62)
    const err = expectInvalid(short)
    expect(err.message).not.toContain(short)
    expectInvalid('')
    expectInvalid('   \n')
    expectInvalid(`${HEX}00`)
    expectInvalid(`zz${HEX.slice(2)}`)
    expectInvalid(`/key/swarm/psk/2.0.0/\n/base16/\n${HEX}`)
    expectInvalid(`${HEADER}\n/base32/\n${HEX}`)
    expectInvalid(`${HEADER}\n/base16/\n${short}`)
    expectInvalid(`${HEADER}\n/base16/\n${HEX} trailing`)
    expectInvalid(`${HEADER}\n/base64/\n!!!notbase64!!!`)
    expectInvalid(`${HEADER}\n/base64/\n${Buffer.alloc(31).toString('base64')}`)
    expectInvalid(`${HEADER}\n/base16/`)
    expectInvalid(HEADER)
    expectInvalid(Buffer.concat([Buffer.from(`${HEADER}\n/bin/\n`), Buffer.alloc(31)]))
    expectInvalid(Buffer.concat([Buffer.from(`${HEADER}\n/bin/\n`), Buffer.alloc(33, 1)]))
    expectInvalid(new Uint8Array(0))
    expectInvalid('é'.repeat(3) + '\u4e00')
    expectInvalid(42)
  })

  it('never shows the key when printed, logged or serialised', () => {
    const key = parseSwarmKey(HEX)
    expect(key.fingerprint).toMatch(/^[0-9a-f]{16}$/)
    expect(HEX).not.toContain(key.fingerprint)
    for (const shown of [String(key), JSON.stringify({ key }), inspect(key), inspect({ nested: key }), `${key}`]) {
      expect(shown).not.toContain(HEX)
      expect(shown).toContain(key.fingerprint)
    }
    expect(parseSwarmKey(HEX).fingerprint).toBe(key.fingerprint)
    expect(parseSwarmKey(generateSwarmKey()).fingerprint).not.toBe(key.fingerprint)
  })

  it('compares keys', () => {
    expect(parseSwarmKey(HEX).equals(parseSwarmKey(formatSwarmKey(HEX, 'base64')))).toBe(true)
    expect(parseSwarmKey(HEX).equals(parseSwarmKey(generateSwarmKey()))).toBe(false)
  })
})
