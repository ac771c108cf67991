/**
 * Wire format of the DAG transfer protocol. Every message is a frame: an
 * unsigned varint length, then that many bytes. The first byte of a frame is
 * its type.
 *
 * - request (client -> server, once): `0x01`, then CIDs, each `varint(len) cid`
 * - block: `0x02 varint(len) cid data`
 * - missing (the server does not have this block, its subDAG is not sent): `0x03 varint(len) cid`
 * - busy (too many transfers, ask someone else): `0x04`
 * - end (every requested subDAG was sent or reported missing): `0x05`
 * - request-blocks (client -> server, once, instead of request): `0x06`, then
 *   CIDs as in request; only those blocks are sent, not their subDAGs (the
 *   requester learns the links, to split the subDAGs among several peers)
 * - cancel (client -> server, after a request): `0x07`; the server stops after
 *   the block it is sending and sends `end` (the requester gives the rest to
 *   another peer without two peers ever sending the same subDAG at once)
 *
 * The full specification is docs/dag-transfer.md.
 */
import { CID } from 'multiformats/cid'
import * as varint from 'uint8-varint'
import { InvalidMessageError } from '../../errors.js'
import type { Uint8ArrayList } from 'uint8arraylist'

export const PROTOCOL = '/otherthing-storage/dag/1.0.0'

export const FRAME_REQUEST = 0x01
export const FRAME_BLOCK = 0x02
export const FRAME_MISSING = 0x03
export const FRAME_BUSY = 0x04
export const FRAME_END = 0x05
export const FRAME_REQUEST_BLOCKS = 0x06
export const FRAME_CANCEL = 0x07

/** Bytes of `n` as an unsigned varint. */
export function varintLength (n: number): number {
  return varint.encodingLength(n)
}

/** Writes `n` as an unsigned varint at `offset` of `out`; returns the offset after it. */
export function writeVarint (n: number, out: Uint8Array, offset: number): number {
  varint.encode(n, out, offset)
  return offset + varint.encodingLength(n)
}

/** Longest varint accepted: 8 bytes (up to 2^56, beyond any frame or CID length). */
const MAX_VARINT_BYTES = 8

/** Reads a varint at `offset` of a list; `undefined` when more bytes are needed. */
export function readVarint (buf: Uint8ArrayList | Uint8Array, offset: number): { value: number, next: number } | undefined {
  // find the last byte first (uint8-varint reads past the end of an incomplete one)
  for (let i = offset; i < buf.byteLength && i - offset < MAX_VARINT_BYTES; i++) {
    const b = buf instanceof Uint8Array ? buf[i] : buf.get(i)
    if ((b & 0x80) !== 0) continue
    // a list's varint is at most 8 bytes: decoded from its own copy (uint8-varint types another uint8arraylist)
    const bytes = buf instanceof Uint8Array ? buf : buf.subarray(offset, i + 1)
    return { value: varint.decode(bytes, buf instanceof Uint8Array ? offset : 0), next: i + 1 }
  }
  if (buf.byteLength - offset >= MAX_VARINT_BYTES) throw new InvalidMessageError('Frame length varint too long')
  return undefined
}

/** The header of a frame carrying a CID (and, for blocks, followed by `dataLength` bytes). */
function cidFrameHeader (type: number, cid: CID, dataLength: number): Uint8Array {
  const cidBytes = cid.bytes
  const body = 1 + varintLength(cidBytes.byteLength) + cidBytes.byteLength + dataLength
  const header = new Uint8Array(varintLength(body) + body - dataLength)
  let o = writeVarint(body, header, 0)
  header[o++] = type
  o = writeVarint(cidBytes.byteLength, header, o)
  header.set(cidBytes, o)
  return header
}

/** A block frame as its header and the block's bytes (sent one after the other, no copy). */
export function encodeBlock (cid: CID, data: Uint8Array): [Uint8Array, Uint8Array] {
  return [cidFrameHeader(FRAME_BLOCK, cid, data.byteLength), data]
}

export function encodeMissing (cid: CID): Uint8Array {
  return cidFrameHeader(FRAME_MISSING, cid, 0)
}

export function encodeSignal (type: typeof FRAME_BUSY | typeof FRAME_END | typeof FRAME_CANCEL): Uint8Array {
  return Uint8Array.of(1, type)
}

/** A request for the subDAGs under `cids` (`FRAME_REQUEST`) or for those blocks only (`FRAME_REQUEST_BLOCKS`). */
export function encodeRequest (cids: CID[], type: typeof FRAME_REQUEST | typeof FRAME_REQUEST_BLOCKS = FRAME_REQUEST): Uint8Array {
  let body = 1
  for (const c of cids) body += varintLength(c.bytes.byteLength) + c.bytes.byteLength
  const out = new Uint8Array(varintLength(body) + body)
  let o = writeVarint(body, out, 0)
  out[o++] = type
  for (const c of cids) {
    o = writeVarint(c.bytes.byteLength, out, o)
    out.set(c.bytes, o)
    o += c.bytes.byteLength
  }
  return out
}

export type Frame =
  | { type: typeof FRAME_REQUEST | typeof FRAME_REQUEST_BLOCKS, cids: CID[] }
  | { type: typeof FRAME_BLOCK, cid: CID, data: Uint8Array }
  | { type: typeof FRAME_MISSING, cid: CID }
  | { type: typeof FRAME_BUSY }
  | { type: typeof FRAME_END }
  | { type: typeof FRAME_CANCEL }

function readCid (frame: Uint8Array, offset: number): { cid: CID, next: number } {
  const len = readVarint(frame, offset)
  if (len == null || len.next + len.value > frame.byteLength || len.value === 0) throw new InvalidMessageError('Truncated CID in frame')
  try {
    return { cid: CID.decode(frame.subarray(len.next, len.next + len.value)), next: len.next + len.value }
  } catch (err) {
    throw new InvalidMessageError('Invalid CID in frame', { cause: err })
  }
}

/** Decodes one frame body (without its length prefix). @throws {InvalidMessageError} */
export function decodeFrame (frame: Uint8Array): Frame {
  if (frame.byteLength === 0) throw new InvalidMessageError('Empty frame')
  const type = frame[0]
  switch (type) {
    case FRAME_REQUEST:
    case FRAME_REQUEST_BLOCKS: {
      const cids: CID[] = []
      let o = 1
      while (o < frame.byteLength) {
        const r = readCid(frame, o)
        cids.push(r.cid)
        o = r.next
      }
      return { type, cids }
    }
    case FRAME_BLOCK: {
      const r = readCid(frame, 1)
      return { type, cid: r.cid, data: frame.subarray(r.next) }
    }
    case FRAME_MISSING:
      return { type, cid: readCid(frame, 1).cid }
    case FRAME_BUSY:
    case FRAME_END:
    case FRAME_CANCEL:
      if (frame.byteLength !== 1) throw new InvalidMessageError('Signal frame with a body')
      return { type }
    default:
      throw new InvalidMessageError(`Unknown frame type ${type}`)
  }
}
