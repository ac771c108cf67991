/** CID strings as the orchestrator stores them: parsed and in canonical form. */
import { CID } from 'multiformats/cid'
import { InvalidCidError } from '../errors.js'

/**
 * Parses a CID string and returns its canonical string form.
 *
 * @throws {InvalidCidError}
 * @example
 * ```ts
 * normaliseCid('QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB') // the same CIDv0
 * ```
 */
export function normaliseCid (cid: string): string {
  if (typeof cid !== 'string' || cid.length === 0 || cid.length > 256) throw new InvalidCidError('CID must be a non-empty string')
  try {
    return CID.parse(cid).toString()
  } catch (err) {
    throw new InvalidCidError(`Invalid CID ${JSON.stringify(cid.slice(0, 80))}`, { cause: err })
  }
}
