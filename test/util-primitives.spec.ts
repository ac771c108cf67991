import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { sha512 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { parseCid, normaliseCid, isCid } from '../src/util/cid.js'
import { bearerToken, generateToken, hashToken, tokenMatches, tokensEqual } from '../src/util/tokens.js'
import { createKeyLock } from '../src/util/key-lock.js'
import { isAbortError, throwIfAborted, toStorageError } from '../src/util/abort.js'
import { describeError, errorBody, httpStatusOf, HttpError } from '../src/util/http-errors.js'
import { AbortedError, InvalidCidError, NotFoundError, QuotaExceededError, StorageError, TimeoutError } from '../src/errors.js'
import { formatBytes } from '../src/util/format-bytes.js'

const V0 = 'QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB'

describe('util/cid', () => {
  it('accepts CIDv0, base32, base36 and base58btc CIDv1, and CID objects', async () => {
    const v1 = CID.parse(V0).toV1()
    expect(parseCid(V0).toString()).toBe(V0)
    expect(parseCid(` ${v1.toString()}\n`).equals(v1)).toBe(true)
    expect(parseCid(v1.toString(base36)).equals(v1)).toBe(true)
    expect(parseCid(v1.toString(base58btc)).equals(v1)).toBe(true)
    expect(parseCid(v1)).toBe(v1)
    expect(normaliseCid(v1.toString(base36))).toBe(v1.toString())
    const long = CID.createV1(raw.code, await sha512.digest(new Uint8Array([1])))
    expect(long.toString().length).toBeGreaterThan(100)
    expect(normaliseCid(long.toString())).toBe(long.toString())
  })

  it('throws InvalidCidError for anything else', () => {
    for (const bad of ['', '   ', 'nope', 'Qm123', 'b' + 'a'.repeat(600), 42, null]) {
      expect(() => parseCid(bad as string)).toThrow(InvalidCidError)
      expect(isCid(bad)).toBe(false)
    }
    try { parseCid('nope') } catch (err: any) { expect(err.code).toBe('ERR_INVALID_CID') }
  })
})

describe('util/tokens', () => {
  it('generates, hashes and compares tokens', () => {
    const t = generateToken()
    expect(t).toMatch(/^ot_[A-Za-z0-9_-]{43}$/)
    expect(generateToken({ prefix: '' })).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(tokenMatches(t, hashToken(t))).toBe(true)
    expect(tokenMatches(t + 'x', hashToken(t))).toBe(false)
    expect(tokensEqual('abc', 'abc')).toBe(true)
    expect(tokensEqual('abc', 'abcd')).toBe(false)
    expect(bearerToken('Bearer xyz')).toBe('xyz')
    expect(bearerToken('bearer  xyz ')).toBe('xyz')
    expect(bearerToken('Basic xyz')).toBeUndefined()
    expect(bearerToken(undefined)).toBeUndefined()
  })
})

describe('util/key-lock', () => {
  it('runs the same key in order and other keys alongside, and forgets idle keys', async () => {
    const lock = createKeyLock()
    const order: string[] = []
    let releaseA!: () => void
    const gate = new Promise<void>(resolve => { releaseA = resolve })
    const a1 = lock.run('a', async () => { await gate; order.push('a1') })
    const a2 = lock.run('a', async () => { order.push('a2') })
    const b = lock.run('b', async () => { order.push('b') })
    await b
    expect(order).toEqual(['b'])
    expect(lock.size).toBe(1)
    releaseA()
    await Promise.all([a1, a2])
    expect(order).toEqual(['b', 'a1', 'a2'])
    expect(lock.size).toBe(0)
  })

  it('a failing run does not block the next one; two locks never share a key', async () => {
    const l1 = createKeyLock()
    const l2 = createKeyLock()
    await expect(l1.run('k', async () => { throw new Error('boom') })).rejects.toThrow('boom')
    await expect(l1.run('k', async () => 1)).resolves.toBe(1)
    let release!: () => void
    const held = l1.run('k', async () => await new Promise<void>(resolve => { release = resolve }))
    await expect(l2.run('k', async () => 2)).resolves.toBe(2)
    release()
    await held
  })

  it('an abort while waiting is an AbortedError and the function never runs', async () => {
    const lock = createKeyLock()
    let release!: () => void
    const held = lock.run('k', async () => await new Promise<void>(resolve => { release = resolve }))
    const controller = new AbortController()
    let ran = false
    const waiting = lock.run('k', async () => { ran = true }, { signal: controller.signal })
    controller.abort()
    await expect(waiting).rejects.toMatchObject({ name: 'AbortedError', code: 'ERR_ABORTED' })
    release()
    await held
    expect(ran).toBe(false)
    expect(lock.size).toBe(0)
  })
})

describe('util/abort', () => {
  it('one AbortedError whatever the source', () => {
    const pre = new AbortController()
    pre.abort()
    expect(() => { throwIfAborted(pre.signal) }).toThrow(AbortedError)
    expect(() => { throwIfAborted(undefined) }).not.toThrow()
    try { pre.signal.throwIfAborted() } catch (err) {
      expect(isAbortError(err)).toBe(true)
      expect(toStorageError(err)).toMatchObject({ name: 'AbortedError', code: 'ERR_ABORTED' })
    }
    const libp2pStyle = Object.assign(new Error('aborted'), { name: 'AbortError', code: 'ABORT_ERR' })
    expect(toStorageError(libp2pStyle)).toBeInstanceOf(AbortedError)
    const timedOut = new AbortController()
    timedOut.abort(new DOMException('t', 'TimeoutError'))
    expect(() => { throwIfAborted(timedOut.signal) }).toThrow(TimeoutError)
    const own = new NotFoundError('x')
    expect(toStorageError(own)).toBe(own)
  })
})

describe('util/http-errors', () => {
  it('one status and body for named, fastify-style and unknown errors', () => {
    expect(httpStatusOf(new InvalidCidError())).toBe(400)
    expect(httpStatusOf(new QuotaExceededError(1, 2, 3))).toBe(507)
    expect(errorBody(new QuotaExceededError(1, 2, 3)).error).toMatchObject({ code: 'ERR_QUOTA_EXCEEDED', used: 1, limit: 2, requested: 3 })
    expect(describeError(Object.assign(new Error('big'), { statusCode: 413 }))).toMatchObject({ statusCode: 413, code: 'ERR_PAYLOAD_TOO_LARGE' })
    expect(describeError(Object.assign(new Error('long'), { statusCode: 414 }))).toMatchObject({ statusCode: 414, code: 'ERR_URI_TOO_LONG' })
    expect(describeError(new HttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'no'))).toMatchObject({ statusCode: 415 })
    expect(describeError(new DOMException('x', 'AbortError'))).toMatchObject({ statusCode: 499, code: 'ERR_ABORTED' })
    expect(describeError(new Error('secret internals'))).toEqual({ statusCode: 500, code: 'ERR_INTERNAL', message: 'Internal server error' })
    class Custom extends StorageError { override readonly code = 'ERR_INVALID_THING' }
    expect(httpStatusOf(new Custom('bad thing'))).toBe(400)
    expect(errorBody({ statusCode: 404, code: 'ERR_ROUTE_NOT_FOUND', message: 'none' })).toEqual({ error: { code: 'ERR_ROUTE_NOT_FOUND', message: 'none' } })
  })
})

describe('util/format-bytes', () => {
  it('formats', () => {
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(999)).toBe('999 B')
    expect(formatBytes(10 * 2 ** 30)).toBe('10 GiB')
  })
})
