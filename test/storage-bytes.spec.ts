import { describe, it, expect } from 'vitest'
import { parseByteSize, formatBytes } from '../src/storage/bytes.js'

describe('parseByteSize', () => {
  const cases: Array<[string | number, number]> = [
    [1024, 1024], [0, 0], ['0', 0], ['1024', 1024], ['100B', 100], ['100 b', 100],
    ['50GB', 50e9], ['50 gb', 50e9], ['50G', 50e9], ['1KB', 1000], ['1k', 1000], ['2MB', 2e6], ['1TB', 1e12], ['1PB', 1e15],
    ['512MiB', 512 * 2 ** 20], ['1KiB', 1024], ['10 GiB', 10 * 2 ** 30], ['1tib', 2 ** 40], ['1PiB', 2 ** 50],
    ['1.5 TB', 1.5e12], ['1.5GiB', 1.5 * 2 ** 30], ['.5KiB', 512], ['0.3KB', 300], ['  7 MB  ', 7e6], ['1.9B', 1]
  ]
  for (const [input, expected] of cases) {
    it(`parses ${JSON.stringify(input)}`, () => { expect(parseByteSize(input)).toBe(expected) })
  }

  const bad: unknown[] = ['abc', '', ' ', '-1', '-1GB', '1XB', '1 G B', 'GB', '1.2.3MB', '1e3', 'NaN', 'Infinity',
    -1, 1.5, NaN, Infinity, 2 ** 53, '9999999PB', null, undefined, {}]
  for (const input of bad) {
    it(`refuses ${typeof input === 'string' ? JSON.stringify(input) : String(input)}`, () => {
      let caught: any
      try { parseByteSize(input as any) } catch (err) { caught = err }
      expect(caught?.code).toBe('ERR_INVALID_ARGUMENT')
      expect(caught?.name).toBe('InvalidArgumentError')
    })
  }
})

describe('formatBytes', () => {
  it('uses binary units with one decimal at most', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(999)).toBe('999 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1024)).toBe('1 KiB')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(1.5 * 2 ** 30)).toBe('1.5 GiB')
    expect(formatBytes(10 * 2 ** 30)).toBe('10 GiB')
    expect(formatBytes(2 ** 20 - 1)).toBe('1 MiB')
    expect(formatBytes(3 * 2 ** 40)).toBe('3 TiB')
    expect(formatBytes(-2048)).toBe('-2 KiB')
  })

  it('round-trips through parseByteSize for exact values', () => {
    for (const n of [1024, 1536, 10 * 2 ** 30, 2 ** 40]) {
      expect(parseByteSize(formatBytes(n))).toBe(n)
    }
  })
})
