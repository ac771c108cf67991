/**
 * The wire under a transfer, with real libp2p nodes over loopback TCP: megabytes sent through our
 * pnet + noise (each noise message sealed with room for its length and encrypted in place by pnet,
 * its buffer reused once the socket wrote it) arrive intact at a stock peer (`@libp2p/pnet`,
 * noise's default crypto) and back, and between two of our nodes.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { afterAll, describe, expect, it } from 'vitest'
import { workspaceLibp2pOptions } from '../src/node/libp2p-config.js'
import { openReceiveWindow } from '../src/node/transfer/window.js'
import { generateSwarmKey, parseSwarmKey } from '../src/swarm-key/index.js'
import { stockLibp2pOptions } from './helpers/stock-libp2p.js'
import type { Libp2p, Stream } from '@libp2p/interface'

const PROTOCOL = '/test/wire/1.0.0'
const KiB = 1024
const MiB = 1024 * KiB
const libp2ps: Libp2p[] = []

afterAll(async () => {
  await Promise.allSettled(libp2ps.map(async n => n.stop()))
})

async function ours (key: string): Promise<Libp2p> {
  const node = await createLibp2p(workspaceLibp2pOptions({ swarmKey: parseSwarmKey(key), listenAddresses: ['/ip4/127.0.0.1/tcp/0'] }) as any)
  libp2ps.push(node)
  return node
}

async function stock (key: string): Promise<Libp2p> {
  const node = await createLibp2p(stockLibp2pOptions(key) as any)
  libp2ps.push(node)
  return node
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Sends `data` on `stream` in sends of `chunk` bytes, waiting for drains; then closes it. */
async function sendAll (stream: Stream, data: Uint8Array, chunk: number): Promise<void> {
  for (let o = 0; o < data.byteLength; o += chunk) {
    if (!stream.send(data.subarray(o, o + chunk))) await stream.onDrain()
  }
  await stream.close()
}

/** Everything `stream` delivers until the remote closes its side. */
async function receiveAll (stream: Stream): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of stream) parts.push(c instanceof Uint8Array ? c : c.subarray())
  return Buffer.concat(parts)
}

/**
 * `size` random bytes from `sender` to `receiver` on a new stream the receiver opens (as a
 * transfer's fetcher does), `open` called on it first; returns the bytes sent and received.
 */
async function pull (sender: Libp2p, receiver: Libp2p, size: number, open: (s: Stream) => void): Promise<{ data: Buffer, sent: Buffer }> {
  const sent = randomBytes(size)
  let served: Promise<void> = Promise.resolve()
  await sender.handle(PROTOCOL, (stream: Stream) => {
    served = sendAll(stream, sent, 256 * KiB)
  })
  try {
    const stream = await receiver.dialProtocol(sender.getMultiaddrs()[0], PROTOCOL)
    open(stream)
    const data = await receiveAll(stream)
    await served
    return { data, sent }
  } finally {
    await sender.unhandle(PROTOCOL)
  }
}

describe('transfer wire: in-place encryption', () => {
  it('moves megabytes intact to and from a stock peer (@libp2p/pnet, noise\'s default crypto)', async () => {
    const key = generateSwarmKey()
    const [mine, theirs] = await Promise.all([ours(key), stock(key)])
    const size = 24 * MiB + 12345
    // ours sends (sealed with room for the length, encrypted in place), the stock peer receives
    const up = await pull(mine, theirs, size, () => {})
    expect(sha256(up.data)).toBe(sha256(up.sent))
    // and the other way, with a transfer's receive window
    const down = await pull(theirs, mine, size, s => { openReceiveWindow(s) })
    expect(sha256(down.data)).toBe(sha256(down.sent))
  })

  it('moves megabytes intact between two of our nodes, both ways at once', async () => {
    const key = generateSwarmKey()
    const [a, b] = await Promise.all([ours(key), ours(key)])
    const size = 32 * MiB + 7
    const [ab, ba] = await Promise.all([pull(a, b, size, s => { openReceiveWindow(s) }), pull(b, a, size, () => {})])
    expect(sha256(ab.data)).toBe(sha256(ab.sent))
    expect(sha256(ba.data)).toBe(sha256(ba.sent))
  })
})
