/**
 * Wire format of the DAG transfer protocol (src/node/transfer/frames.ts):
 * the varints (now `uint8-varint`) and the frames are byte for byte what
 * the hand-rolled encoder wrote before, so peers of either version agree.
 * The vectors were produced by that encoder.
 */
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeFrame, encodeBlock, encodeMissing, encodeRequest, encodeSignal, FRAME_BLOCK, FRAME_CANCEL, FRAME_END, FRAME_REQUEST_BLOCKS, readVarint, varintLength, writeVarint } from '../src/node/transfer/frames.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const cid = CID.parse('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')

describe('DAG transfer wire format', () => {
  it('varints: the same bytes as before, read back from arrays and lists', () => {
    const vectors: Array<[number, string]> = [
      [0, '00'], [1, '01'], [127, '7f'], [128, '8001'], [300, 'ac02'], [16384, '808001'],
      [4 * 1024 * 1024 + 256, '80828002'], [2 ** 31, '8080808008'], [2 ** 53 - 1, 'ffffffffffffff0f']
    ]
    for (const [n, bytes] of vectors) {
      const out = new Uint8Array(varintLength(n) + 1)
      expect(writeVarint(n, out, 1)).toBe(out.byteLength)
      expect(hex(out.subarray(1))).toBe(bytes)
      expect(readVarint(out, 1)).toEqual({ value: n, next: out.byteLength })
      const list = new Uint8ArrayList(out.subarray(0, 1), ...[...out.subarray(1)].map(b => Uint8Array.of(b)))
      expect(readVarint(list, 1)).toEqual({ value: n, next: out.byteLength })
    }
  })

  it('varints: incomplete is undefined, nine bytes is refused, a non-minimal one is read as before', () => {
    expect(readVarint(Uint8Array.from([0x80, 0x80]), 0)).toBeUndefined()
    expect(readVarint(new Uint8Array(0), 0)).toBeUndefined()
    expect(() => readVarint(new Uint8Array(8).fill(0x80), 0)).toThrow(/too long/)
    expect(readVarint(Uint8Array.from([0x80, 0x00]), 0)).toEqual({ value: 0, next: 2 })
  })

  it('frames: block, missing, request, request-blocks and signals as before', () => {
    const [header, data] = encodeBlock(cid, Uint8Array.of(1, 2, 3))
    expect(hex(header)).toBe('2902' + '24' + hex(cid.bytes))
    expect(hex(data)).toBe('010203')
    const block = decodeFrame(new Uint8ArrayList(header, data).subarray(1))
    expect(block.type).toBe(FRAME_BLOCK)
    expect(block.type === FRAME_BLOCK && block.cid.equals(cid) && hex(block.data)).toBe('010203')
    expect(hex(encodeMissing(cid))).toBe('2603' + '24' + hex(cid.bytes))
    expect(hex(encodeRequest([cid, cid]))).toBe('4b01' + ('24' + hex(cid.bytes)).repeat(2))
    const blocksOnly = encodeRequest([cid], FRAME_REQUEST_BLOCKS)
    expect(hex(blocksOnly)).toBe('2606' + '24' + hex(cid.bytes))
    expect(decodeFrame(blocksOnly.subarray(1))).toEqual({ type: FRAME_REQUEST_BLOCKS, cids: [cid] })
    expect(hex(encodeSignal(FRAME_END))).toBe('0105')
    expect(decodeFrame(encodeSignal(FRAME_CANCEL).subarray(1))).toEqual({ type: FRAME_CANCEL })
  })
})
