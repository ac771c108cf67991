/**
 * Pinning through the DAG transfer protocol (src/node/transfer/) between real
 * workspace nodes on loopback: a 64 MiB file arrives intact, a lying peer is
 * rejected, a peer without the protocol is served by bitswap, abort and quota
 * failures leave usage as it was, and a transfer resumes from another peer
 * when the serving peer dies.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import { createFrameReader } from '../src/node/transfer/frame-reader.js'
import { decodeFrame, encodeBlock, encodeSignal, FRAME_BLOCK, FRAME_END, FRAME_REQUEST, PROTOCOL } from '../src/node/transfer/frames.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'
import type { StorageNode, StorageNodeInit, WorkspaceNode } from '../src/node/index.js'
import type { ManagedWorkspaceNode } from '../src/node/workspace-node.js'
import type { Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { logCleanupError } from './helpers/cleanup.js'

const MiB = 2 ** 20
const dirs: string[] = []
const nodes: StorageNode[] = []

async function makeNode (init: Partial<StorageNodeInit> = {}): Promise<StorageNode> {
  const dir = await mkdtemp(join(tmpdir(), 'node-transfer-'))
  dirs.push(dir)
  const node = await createStorageNode({
    storagePath: dir,
    quotaBytes: 512 * MiB,
    listenAddresses: ['/ip4/127.0.0.1/tcp/0'],
    blockTimeout: 2000,
    blockRetries: 1,
    dialTimeout: 2000,
    ...init
  })
  nodes.push(node)
  return node
}

afterAll(async () => {
  await Promise.allSettled(nodes.map(async n => n.stop()))
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

function sha256 (data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

async function catHash (ws: WorkspaceNode, cid: CID): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of ws.cat(cid, { timeout: 5000 })) h.update(chunk)
  return h.digest('hex')
}

/** Bytes of every block file under a node's storage root (the truth the quota ledger must match). */
async function blockFileBytes (root: string): Promise<number> {
  let bytes = 0
  for (const name of await readdir(root, { recursive: true })) {
    if (name.endsWith('.data') && !name.split('/').pop()?.startsWith('.')) bytes += (await stat(join(root, name))).size
  }
  return bytes
}

function libp2p (ws: WorkspaceNode): any {
  return (ws as ManagedWorkspaceNode).helia.libp2p
}

/** Replaces a node's transfer handler with one that reads the request and answers with `reply`. */
async function lie (ws: WorkspaceNode, reply: (request: CID[], stream: Stream) => void): Promise<{ calls: number }> {
  const seen = { calls: 0 }
  await libp2p(ws).unhandle(PROTOCOL)
  await libp2p(ws).handle(PROTOCOL, async (stream: Stream) => {
    seen.calls++
    const reader = createFrameReader(stream, { maxFrameLength: MiB, highWaterMark: MiB })
    const body = await reader.next()
    reader.stop()
    const frame = decodeFrame(body as Uint8Array)
    if (frame.type !== FRAME_REQUEST) throw new Error('expected a request')
    reply(frame.cids, stream)
    stream.send(encodeSignal(FRAME_END))
    await stream.close().catch(logCleanupError)
  })
  return seen
}

describe('pin through the DAG transfer protocol', () => {
  const key = generateSwarmKey()

  it('a frame reader resumed with frames buffered hands them over at once (no lost wake-up)', async () => {
    const a = await (await makeNode()).join('frames', key)
    const b = await (await makeNode()).join('frames', key, { bootstrapPeers: a.multiaddrs() })
    const proto = '/otherthing-storage/test/frames/1.0.0'
    const blocks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(64 * 1024)]
    const { cid } = await a.add(randomBytes(10))
    await libp2p(a).handle(proto, async (stream: Stream) => {
      for (const data of blocks) for (const part of encodeBlock(cid, data)) stream.send(part)
      stream.send(encodeSignal(FRAME_END))
      await stream.close().catch(logCleanupError)
    })
    const stream: Stream = await libp2p(b).dialProtocol(libp2p(a).peerId, proto)
    // paused above 100 KiB held: the rest of the frames (and end) wait in the stream's buffer
    const reader = createFrameReader(stream, { maxFrameLength: MiB, highWaterMark: 100 * 1024 })
    // the sender may have closed before the dial resolved here (its FIN came with the frames)
    const remoteClosed = stream.remoteWriteStatus === 'closed'
      ? Promise.resolve()
      : new Promise<void>(resolve => { stream.addEventListener('remoteCloseWrite', () => { resolve() }, { once: true }) })
    const first = await reader.next() as Uint8Array
    await remoteClosed
    // the consumer releases what it holds: the reader resumes and hands over the frames the stream
    // buffered while paused, then end, with no more bytes to come (the sender has closed); the
    // reader once waited for more bytes there, and the last frames sat until a timer fired
    const types = [decodeFrame(first).type]
    const bodies = [first]
    reader.release(first.byteLength)
    for (let body = await reader.next(); body != null; body = await reader.next()) {
      types.push(decodeFrame(body).type)
      bodies.push(body)
      reader.release(body.byteLength)
      if (types.at(-1) === FRAME_END) break
    }
    reader.stop()
    expect(types).toEqual([FRAME_BLOCK, FRAME_BLOCK, FRAME_BLOCK, FRAME_END])
    // each frame is a buffer of its own (a consumer may transfer it to a worker), bytes intact
    for (const body of bodies) expect([body.byteOffset, body.byteLength]).toEqual([0, body.buffer.byteLength])
    expect(bodies.slice(0, 3).map(b => Buffer.from((decodeFrame(b) as { data: Uint8Array }).data).equals(blocks[bodies.indexOf(b)]))).toEqual([true, true, true])
    await libp2p(a).unhandle(proto)
  }, 20_000)

  it('pins a 64 MiB file from a peer, bytes intact, progress adds up', async () => {
    const a = await (await makeNode()).join('big', key)
    const data = randomBytes(64 * MiB)
    const { cid } = await a.add(data)
    const b = await (await makeNode()).join('big', key, { bootstrapPeers: a.multiaddrs() })
    expect(libp2p(b).getProtocols()).toContain(PROTOCOL)
    let last = { bytes: 0, total: undefined as number | undefined }
    const pin = await b.pin(cid, { timeout: 60_000, onProgress: p => { last = { bytes: p.bytes, total: p.total } } })
    expect(pin.size).toBe(64 * MiB)
    expect(last.bytes).toBe(last.total)
    const stat = await b.stat(cid, { offline: true })
    expect(stat.local).toBe(true)
    expect(stat.dagSize).toBe(last.bytes)
    expect(await catHash(b, cid)).toBe(sha256(data))
    // its speed is measured by the bench (bench/scripts/pin.ts), not asserted here
  }, 60_000)

  it('a received block already stored is written without a has() first and counted once in the quota', async () => {
    const a = await (await makeNode()).join('dedup', key)
    const data = randomBytes(3 * MiB + 1000)
    const { cid } = await a.add(data, { profile: 'kubo' })
    const node = await makeNode()
    const b = await node.join('dedup', key)
    // the first MiB: four 256 KiB leaves of the DAG b will pin, already stored (and pinned) here
    await b.add(data.subarray(0, MiB), { profile: 'kubo' })
    const before = (await node.stats()).usedBytes
    await b.connect(a.multiaddrs()[0])
    await b.pin(cid, { timeout: 20_000 })
    const after = (await node.stats()).usedBytes
    const { dagSize } = await b.stat(cid, { offline: true })
    // the holder sent the whole DAG (b lacked its root), stored leaves included: they cost nothing again
    expect(after - before).toBeLessThanOrEqual(dagSize - MiB)
    expect(after).toBe(await blockFileBytes(node.root))
    expect(await catHash(b, cid)).toBe(sha256(data))
  }, 30_000)

  it('rejects a lying peer (wrong bytes, unrelated block) and gets the DAG from an honest one', async () => {
    const honest = await (await makeNode()).join('liar', key)
    const data = randomBytes(3 * MiB)
    const { cid } = await honest.add(data)
    const other = await honest.add(randomBytes(1000), { pin: true })
    const wrong = await lie(await (await makeNode()).join('liar', key), (req, stream) => {
      const [h, d] = encodeBlock(req[0], randomBytes(1000))
      stream.send(h)
      stream.send(d)
    })
    const unrelated = await lie(await (await makeNode()).join('liar', key), (_req, stream) => {
      const [h, d] = encodeBlock(other.cid, new Uint8Array(0))
      stream.send(h)
      stream.send(d)
    })
    const liars = nodes.slice(-2).map(n => n.workspace('liar'))

    // only liars: the pin fails cleanly (not found), nothing stays stored
    const alone = await (await makeNode()).join('liar', key, { bootstrapPeers: liars.flatMap(l => l.multiaddrs()) })
    await expect(alone.pin(cid, { timeout: 20_000 })).rejects.toHaveProperty('code', 'ERR_NOT_FOUND')
    expect(wrong.calls + unrelated.calls).toBe(2)
    expect((await alone.stats()).repoBytes).toBe(0)

    // liars first, then the honest peer: the pin completes with the right bytes
    const b = await (await makeNode()).join('liar', key, { bootstrapPeers: liars.flatMap(l => l.multiaddrs()) })
    await b.connect(honest.multiaddrs()[0])
    await b.pin(cid, { timeout: 20_000 })
    expect(wrong.calls + unrelated.calls).toBe(4)
    expect(await catHash(b, cid)).toBe(sha256(data))
    expect(await b.isPinned(other.cid)).toBe(false)
    expect((await b.stat(other.cid, { offline: true }).catch(e => e)).code).toBe('ERR_NOT_FOUND')
  }, 60_000)

  it('falls back to bitswap for a peer without the protocol', async () => {
    const a = await (await makeNode()).join('old', key)
    await libp2p(a).unhandle(PROTOCOL)
    const data = randomBytes(3 * MiB)
    const { cid } = await a.add(data)
    const b = await (await makeNode()).join('old', key, { bootstrapPeers: a.multiaddrs() })
    await b.pin(cid, { timeout: 20_000 })
    expect(await catHash(b, cid)).toBe(sha256(data))
  }, 30_000)

  it('abort mid-transfer: ERR_ABORTED, usage back to before, the peer serves again', async () => {
    const a = await (await makeNode()).join('abort', key)
    const data = randomBytes(32 * MiB)
    const { cid } = await a.add(data)
    const node = await makeNode()
    const b = await node.join('abort', key, { bootstrapPeers: a.multiaddrs() })
    const before = (await node.stats()).usedBytes
    const controller = new AbortController()
    await expect(b.pin(cid, {
      signal: controller.signal,
      onProgress: p => { if (p.bytes > 4 * MiB) controller.abort() }
    })).rejects.toHaveProperty('code', 'ERR_ABORTED')
    expect((await node.stats()).usedBytes).toBe(before)
    await b.pin(cid, { timeout: 20_000 })
    expect(await catHash(b, cid)).toBe(sha256(data))
  }, 60_000)

  it('quota exceeded mid-transfer: ERR_QUOTA_EXCEEDED, usage back to before', async () => {
    const a = await (await makeNode()).join('quota', key)
    const { cid } = await a.add(randomBytes(16 * MiB))
    const small = await (await makeNode()).join('quota', key)
    const kept = await small.add(randomBytes(MiB))
    const node = nodes[nodes.length - 1]
    await node.setQuota(6 * MiB)
    await small.connect(a.multiaddrs()[0])
    const before = (await node.stats()).usedBytes
    await expect(small.pin(cid, { timeout: 20_000 })).rejects.toHaveProperty('code', 'ERR_QUOTA_EXCEEDED')
    expect((await node.stats()).usedBytes).toBe(before)
    expect(await small.isPinned(kept.cid)).toBe(true)
  }, 60_000)

  it('resumes from another peer when the serving peer dies mid-transfer', async () => {
    const data = randomBytes(24 * MiB)
    const first = await makeNode()
    const a = await first.join('resume', key)
    const { cid } = await a.add(data)
    const c = await (await makeNode()).join('resume', key)
    expect((await c.add(data)).cid.equals(cid)).toBe(true)
    const b = await (await makeNode()).join('resume', key, { bootstrapPeers: a.multiaddrs() })
    let last = { bytes: 0, total: undefined as number | undefined }
    let killed: Promise<void> | undefined
    await b.pin(cid, {
      timeout: 30_000,
      onProgress: p => {
        last = { bytes: p.bytes, total: p.total }
        if (killed == null && p.bytes > 6 * MiB) {
          killed = (async () => {
            await b.connect(c.multiaddrs()[0])
            await first.stop()
          })()
        }
      }
    })
    await killed
    // nothing was counted twice: the second peer continued where the first stopped
    expect(last.bytes).toBe(last.total)
    expect(await catHash(b, cid)).toBe(sha256(data))
  }, 60_000)
})
