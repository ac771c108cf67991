/**
 * The one CID parser of otherthing-storage. Everything that takes a CID from
 * outside (HTTP, IPC, the orchestrator protocol, library callers) goes
 * through {@link parseCid}, so every entry point accepts the same strings:
 * CIDv0 (`Qm…`), and CIDv1 in base32 (`b…`), base36 (`k…`, as in subdomain
 * gateways and IPNS keys) and base58btc (`z…`).
 */
import { CID } from 'multiformats/cid'
import { InvalidCidError } from '../errors.js'

/**
 * Longest CID string accepted. Far above any real CID (a sha2-512 CIDv1 in
 * base32 is 110 characters), low enough that parsing stays cheap.
 */
export const MAX_CID_LENGTH = 512

/**
 * Parses a CID or its string form (surrounding white space ignored).
 *
 * @throws {InvalidCidError} for anything that is not a CID
 * @example
 * ```ts
 * parseCid('QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB').version // 0
 * parseCid(' bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy ').version // 1
 * ```
 */
export function parseCid (value: CID | string): CID {
  const asCid = CID.asCID(value)
  if (asCid != null) return asCid
  if (typeof value !== 'string') throw new InvalidCidError('Expected a CID or a CID string')
  const s = value.trim()
  if (s === '') throw new InvalidCidError('Expected a CID string, got an empty one')
  if (s.length > MAX_CID_LENGTH) throw new InvalidCidError(`Invalid CID: longer than ${MAX_CID_LENGTH} characters`)
  try {
    // multiformats reads CIDv0 (`Q…`) and the `z`, `b` and `k` multibase prefixes
    return CID.parse(s)
  } catch (err) {
    throw new InvalidCidError(`Invalid CID: ${JSON.stringify(s.slice(0, 100))}`, { cause: err })
  }
}

/**
 * The canonical string of a CID: CIDv0 stays `Qm…`, CIDv1 is base32 `b…`
 * (the form Helia and Kubo print). Two spellings of one CID normalise to the
 * same string.
 *
 * @throws {InvalidCidError}
 */
export function normaliseCid (value: CID | string): string {
  return parseCid(value).toString()
}

/** Whether `value` is a CID string {@link parseCid} accepts. */
export function isCid (value: unknown): boolean {
  if (typeof value !== 'string' && CID.asCID(value) == null) return false
  try {
    parseCid(value as string)
    return true
  } catch {
    // not a CID: that is the answer, not an error to report
    return false
  }
}
