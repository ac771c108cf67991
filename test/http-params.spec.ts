/**
 * The pure helpers of the HTTP API: Host/Origin checks, token comparison,
 * Range parsing, Go durations, CID parsing and the error mapping.
 */
import { describe, expect, it } from 'vitest'
import {
  AbortedError, ConflictError, ContentNotFoundError, DiskReserveError, ForbiddenError, InvalidArgumentError, InvalidCidError,
  InvalidConfigError, InvalidMessageError, InvalidStoragePathError, InvalidSwarmKeyError, InvalidWorkspaceIdError, NotFoundError,
  NotPinnedError, NotStartedError, QuotaExceededError, RangeNotSatisfiableError, StorageError, TimeoutError, UnauthorizedError,
  WorkspaceNotJoinedError
} from '../src/errors.js'
import { describeError, kuboError, withStatus } from '../src/runner/http/errors.js'
import { etagMatches, parseCid, parseDuration, parseRange } from '../src/runner/http/params.js'
import { bearerToken, isAllowedHost, isAllowedOrigin, tokensEqual } from '../src/runner/http/security.js'

describe('Host and Origin checks', () => {
  it('accepts local hosts with any port', () => {
    for (const h of ['127.0.0.1', '127.0.0.1:5001', 'localhost', 'LOCALHOST:80', '[::1]', '[::1]:8080']) {
      expect(isAllowedHost(h), h).toBe(true)
    }
  })

  it('refuses foreign, malformed or missing hosts', () => {
    for (const h of [undefined, '', 'evil.com', 'evil.com:5001', '127.0.0.1.evil.com', 'localhost.evil.com', '10.0.0.1', '[::2]:1', '127.0.0.1:x', 'a:b:c']) {
      expect(isAllowedHost(h), String(h)).toBe(false)
    }
  })

  it('accepts allowedHosts by name or exact host:port', () => {
    expect(isAllowedHost('mybox.lan:5001', ['mybox.lan'])).toBe(true)
    expect(isAllowedHost('mybox.lan:5001', ['mybox.lan:5001'])).toBe(true)
    expect(isAllowedHost('mybox.lan:5002', ['mybox.lan:5001'])).toBe(false)
  })

  it('checks origins', () => {
    expect(isAllowedOrigin('http://localhost:3000')).toBe(true)
    expect(isAllowedOrigin('https://127.0.0.1')).toBe(true)
    expect(isAllowedOrigin('http://[::1]:9')).toBe(true)
    expect(isAllowedOrigin('https://evil.com')).toBe(false)
    expect(isAllowedOrigin('null')).toBe(false)
    expect(isAllowedOrigin('file://')).toBe(false)
    expect(isAllowedOrigin('https://app.example.com', [], ['https://app.example.com'])).toBe(true)
    expect(isAllowedOrigin('http://mybox.lan:1', ['mybox.lan'])).toBe(true)
  })
})

describe('tokens', () => {
  it('compares in constant time and exactly', () => {
    expect(tokensEqual('secret-token', 'secret-token')).toBe(true)
    expect(tokensEqual('secret-token', 'secret-tokeN')).toBe(false)
    expect(tokensEqual('', 'secret-token')).toBe(false)
  })

  it('reads bearer tokens', () => {
    expect(bearerToken('Bearer abc')).toBe('abc')
    expect(bearerToken('bearer  abc ')).toBe('abc')
    expect(bearerToken('Basic abc')).toBeUndefined()
    expect(bearerToken(undefined)).toBeUndefined()
  })
})

describe('Range', () => {
  it('parses single ranges', () => {
    expect(parseRange(undefined, 100)).toBeUndefined()
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 })
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=90-1000', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=-1000', 100)).toEqual({ start: 0, end: 99 })
  })

  it('ignores malformed and multi ranges', () => {
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined()
    expect(parseRange('items=0-1', 100)).toBeUndefined()
    expect(parseRange('bytes=5-1', 100)).toBeUndefined()
  })

  it('throws RangeNotSatisfiableError past the end', () => {
    expect(() => parseRange('bytes=100-', 100)).toThrow(RangeNotSatisfiableError)
    expect(() => parseRange('bytes=-0', 100)).toThrow(RangeNotSatisfiableError)
    expect(() => parseRange('bytes=0-', 0)).toThrow(RangeNotSatisfiableError)
  })

  it('matches ETags', () => {
    expect(etagMatches('"abc"', '"abc"')).toBe(true)
    expect(etagMatches('W/"abc", "x"', '"abc"')).toBe(true)
    expect(etagMatches('*', '"abc"')).toBe(true)
    expect(etagMatches('"x"', '"abc"')).toBe(false)
  })
})

describe('durations and CIDs', () => {
  it('parses Go durations', () => {
    expect(parseDuration('30000ms')).toBe(30000)
    expect(parseDuration('1m30s')).toBe(90000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('250')).toBe(250)
    expect(() => parseDuration('soon')).toThrow(InvalidArgumentError)
    expect(() => parseDuration('10sx')).toThrow(InvalidArgumentError)
  })

  it('parses CIDs and /ipfs/ paths', () => {
    const v0 = 'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD'
    expect(parseCid(v0).toString()).toBe(v0)
    expect(parseCid(`/ipfs/${v0}`).toString()).toBe(v0)
    const v1 = parseCid(v0).toV1()
    expect(parseCid(v1.toString()).equals(v1)).toBe(true)
    expect(() => parseCid('not-a-cid')).toThrow(InvalidCidError)
    expect(() => parseCid(`/ipfs/${v0}/sub/path`)).toThrow(InvalidCidError)
  })
})

describe('error mapping', () => {
  it('gives every named error a status and keeps its code', () => {
    const cases: Array<[StorageError, number]> = [
      [new InvalidArgumentError(), 400], [new InvalidCidError(), 400], [new InvalidWorkspaceIdError(), 400],
      [new InvalidMessageError(), 400], [new InvalidSwarmKeyError(), 400], [new InvalidConfigError(), 400],
      [new InvalidStoragePathError(), 400], [new UnauthorizedError(), 401], [new ForbiddenError(), 403],
      [new ContentNotFoundError(), 404], [new NotPinnedError(), 404], [new NotFoundError(), 404],
      [new WorkspaceNotJoinedError(), 404], [new ConflictError(), 409], [new RangeNotSatisfiableError(), 416],
      [new AbortedError(), 499], [new NotStartedError(), 503], [new TimeoutError(), 504],
      [new QuotaExceededError(1, 2, 3), 507], [new DiskReserveError(1, 2, 3), 507]
    ]
    for (const [err, status] of cases) {
      const info = describeError(err)
      expect(info.statusCode, err.name).toBe(status)
      expect(info.code).toBe(err.code)
    }
    expect(describeError(new QuotaExceededError(1, 2, 3)).details).toEqual({ used: 1, limit: 2, requested: 3 })
    expect(describeError(withStatus(new WorkspaceNotJoinedError(), 400)).statusCode).toBe(400)
  })

  it('hides internal errors', () => {
    const info = describeError(new Error('secret path /home/x/.key at line 3'))
    expect(info).toEqual({ statusCode: 500, code: 'ERR_INTERNAL', message: 'Internal server error' })
    expect(describeError(new StorageError('internal detail')).message).not.toContain('internal detail')
  })

  it('shapes Kubo errors', () => {
    expect(kuboError(describeError(new InvalidCidError()))).toEqual({ statusCode: 400, body: { Message: 'Invalid CID', Code: 1, Type: 'error' } })
    expect(kuboError(describeError(new ContentNotFoundError())).statusCode).toBe(500)
    expect(kuboError(describeError(new UnauthorizedError())).statusCode).toBe(401)
  })
})
