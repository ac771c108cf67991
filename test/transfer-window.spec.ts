/**
 * The wire under a transfer, with real libp2p nodes over loopback TCP: a transfer stream's
 * receive window is granted again only once half of it is used (go-yamux's rule; js-yamux
 * grants after every data frame), measured as the window updates the sender receives; and
 * megabytes sent through our pnet + noise (each noise message sealed with room for its length
 * and encrypted in place by pnet) arrive intact at a stock peer (`@libp2p/pnet`, noise's
 * default crypto) and back.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { afterAll, describe, expect, it } from 'vitest'
import { workspaceLibp2pOptions } from '../src/node/libp2p-config.js'
import { openReceiveWindow } from '../src/node/transfer/window.js'
import { generateSwarmKey, parseSwarmKey } from '../src/swarm-key/index.js'
import { stockLibp2pOptions } from './helpers/stock-libp2p.js'
import type { Libp2p, Stream } from '@libp2p/interface'

const PROTOCOL = '/test/window/1.0.0'
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
 * transfer's fetcher does), `open` called on it first; returns the bytes received and the window
 * updates the sender's yamux stream handled.
 */
async function pull (sender: Libp2p, receiver: Libp2p, size: number, open: (s: Stream) => void): Promise<{ data: Buffer, sent: Buffer, updates: number }> {
  const sent = randomBytes(size)
  let updates = 0
  let served: Promise<void> = Promise.resolve()
  await sender.handle(PROTOCOL, (stream: Stream) => {
    const y = stream as unknown as { handleWindowUpdate: (frame: unknown) => void }
    const handle = y.handleWindowUpdate.bind(y)
    y.handleWindowUpdate = (frame) => { updates++; handle(frame) }
    served = sendAll(stream, sent, 64 * KiB)
  })
  try {
    const stream = await receiver.dialProtocol(sender.getMultiaddrs()[0], PROTOCOL)
    open(stream)
    const data = await receiveAll(stream)
    await served
    return { data, sent, updates }
  } finally {
    await sender.unhandle(PROTOCOL)
  }
}

describe('transfer wire: window updates and in-place encryption', () => {
  it('grants the receive window again once half of it is used, not after every frame', async () => {
    const key = generateSwarmKey()
    const [a, b] = await Promise.all([ours(key), ours(key)])
    const window = 1 * MiB
    const size = 16 * MiB
    const batched = await pull(a, b, size, s => { openReceiveWindow(s, window) })
    expect(sha256(batched.data)).toBe(sha256(batched.sent))
    // one update per half window received (plus the grant itself and the close's)
    expect(batched.updates).toBeLessThanOrEqual(size / (window / 2) + 4)
    // yamux's own behaviour on the same link, for contrast: an update after every data frame
    const stockRule = await pull(a, b, size, () => {})
    expect(sha256(stockRule.data)).toBe(sha256(stockRule.sent))
    expect(stockRule.updates).toBeGreaterThan(2 * batched.updates)
  })

  it('moves megabytes intact to and from a stock peer (@libp2p/pnet, noise\'s default crypto)', async () => {
    const key = generateSwarmKey()
    const [mine, theirs] = await Promise.all([ours(key), stock(key)])
    const size = 24 * MiB + 12345
    // ours sends (sealed with room for the length, encrypted in place), the stock peer receives
    const up = await pull(mine, theirs, size, () => {})
    expect(sha256(up.data)).toBe(sha256(up.sent))
    // and the other way, our window rule on the receiving side
    const down = await pull(theirs, mine, size, s => { openReceiveWindow(s) })
    expect(sha256(down.data)).toBe(sha256(down.sent))
  })
})
