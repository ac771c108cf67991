/**
 * Adding and reading content: Kubo CID vectors, a two-level (over 174 chunks)
 * 64 MiB file cross-checked with Debian's `ipfs_cid`, a round trip between two
 * nodes compared by streaming sha256, ranges, and `get` never leaving a partial file.
 */
import { execFileSync } from 'node:child_process'
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStorageNode } from '../src/node/index.js'
import { generateSwarmKey } from '../src/swarm-key/index.js'
import type { ByteProgress, StorageNode, WorkspaceNode } from '../src/node/index.js'

const BIG_SIZE = 64 * 2 ** 20
/** `ipfs_cid` (Kubo defaults) of the 64 MiB AES-CTR keystream below. */
const BIG_CID = 'QmfE9ffQTCryycoPTVsJ3wpXqgukdrBAufCCcQC2tn5bSs'
const BIG_SHA256 = 'f30fb789a9f52beedf72cacba5240bcd34e513150a201daab9f24dde4051556d'

/** Deterministic pseudo-random bytes: AES-128-CTR keystream under a zero key, in 1 MiB chunks. */
async function * keystream (size: number): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16), Buffer.alloc(16))
  const zeros = Buffer.alloc(2 ** 20)
  for (let done = 0; done < size; done += zeros.length) {
    yield cipher.update(zeros.subarray(0, Math.min(zeros.length, size - done)))
  }
}

async function sha256 (source: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of source) hash.update(chunk)
  return hash.digest('hex')
}

const dirs: string[] = []
let a: StorageNode
let b: StorageNode
let wa: WorkspaceNode
let wb: WorkspaceNode

beforeAll(async () => {
  const key = generateSwarmKey()
  for (let i = 0; i < 2; i++) dirs.push(await mkdtemp(join(tmpdir(), 'node-content-')))
  a = await createStorageNode({ storagePath: dirs[0], quotaBytes: 512 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'] })
  b = await createStorageNode({ storagePath: dirs[1], quotaBytes: 512 * 2 ** 20, listenAddresses: ['/ip4/127.0.0.1/tcp/0'], blockTimeout: 2000, blockRetries: 1 })
  wa = await a.join('content', key)
  wb = await b.join('content', key, { bootstrapPeers: wa.multiaddrs() })
})

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()])
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
})

describe('add: Kubo CIDs', () => {
  it.each([
    ['hello world', 'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD'],
    ['Hello Mars!\n', 'QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN'],
    ['', 'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH']
  ])('%j -> %s', async (content, expected) => {
    const bytes = new TextEncoder().encode(content)
    const r = await wa.add(bytes)
    expect(r.cid.toString()).toBe(expected)
    expect(r.size).toBe(bytes.byteLength)
    expect(await wa.isPinned(r.cid)).toBe(true)
    // every source type gives the same CID
    expect((await wa.add([bytes], { pin: false })).cid.toString()).toBe(expected)
    expect((await wa.add(Readable.from([Buffer.from(bytes)]), { pin: false })).cid.toString()).toBe(expected)
  })

  it('cidv1 profile: raw leaves, CIDv1', async () => {
    const r = await wa.add(new TextEncoder().encode('hello world'), { profile: 'cidv1', pin: false })
    expect(r.cid.version).toBe(1)
    expect(r.cid.code).toBe(0x55)
  })

  it('rejects bad options with InvalidArgumentError', async () => {
    await expect(wa.add(new Uint8Array(1), { chunkSize: 0 })).rejects.toHaveProperty('code', 'ERR_INVALID_ARGUMENT')
    await expect(wa.add(new Uint8Array(1), { profile: 'nope' as any })).rejects.toHaveProperty('code', 'ERR_INVALID_ARGUMENT')
    await expect(wa.addFile(join(dirs[0], 'missing'))).rejects.toHaveProperty('code', 'ERR_INVALID_ARGUMENT')
  })
})

describe('a 64 MiB two-level file', () => {
  let file: string

  beforeAll(async () => {
    file = join(dirs[0], 'big.bin')
    await pipeline(Readable.from(keystream(BIG_SIZE)), createWriteStream(file))
  })

  it('matches ipfs_cid (when installed) and the recorded CID', () => {
    let tool: string | undefined
    try {
      tool = JSON.parse(execFileSync('ipfs_cid', [file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()).CIDv0
    } catch {
      // ipfs_cid is not installed here: the recorded CID below is still checked
    }
    if (tool != null) expect(tool).toBe(BIG_CID)
  })

  it('add on A (with progress), pin on B, get on B: same bytes', async () => {
    const progress: number[] = []
    const added = await wa.addFile(file, { onProgress: p => progress.push(p.bytes) })
    expect(added.cid.toString()).toBe(BIG_CID)
    expect(added.size).toBe(BIG_SIZE)
    expect(progress.at(-1)).toBe(BIG_SIZE)
    expect((await wa.pins()).find(p => p.cid.equals(added.cid))).toMatchObject({ size: BIG_SIZE, name: 'big.bin' })

    let last: ByteProgress = { bytes: 0 }
    const pinned = await wb.pin(BIG_CID, { timeout: 60_000, name: 'copy', onProgress: p => { last = p } })
    expect(pinned.size).toBe(BIG_SIZE)
    expect(last.bytes).toBe(last.total)
    const stat = await wb.stat(BIG_CID, { offline: true })
    expect(stat).toMatchObject({ size: BIG_SIZE, local: true, pinned: true, blocks: 256 + 2 + 1 })
    expect(stat.dagSize).toBe(last.total)

    const out = await wb.get(BIG_CID)
    expect(out).toBe(join(b.root, 'workspace-content', 'cache', BIG_CID))
    expect(await sha256(createReadStream(out))).toBe(BIG_SHA256)
    await rm(out)
  })

  it('cat streams a range', async () => {
    const want: Uint8Array[] = []
    let seen = 0
    for await (const chunk of keystream(BIG_SIZE)) {
      want.push(chunk)
      if ((seen += chunk.byteLength) > 3 * 2 ** 20) break
    }
    const expected = Buffer.concat(want).subarray(300_000, 300_000 + 2 ** 20 + 17)
    const got: Uint8Array[] = []
    for await (const chunk of wb.cat(BIG_CID, { offset: 300_000, length: 2 ** 20 + 17 })) got.push(chunk)
    expect(Buffer.compare(Buffer.concat(got), expected)).toBe(0)
    await expect((async () => { for await (const _ of wb.cat(BIG_CID, { offset: BIG_SIZE + 1 })) { /* */ } })())
      .rejects.toHaveProperty('code', 'ERR_RANGE_NOT_SATISFIABLE')
  })
})

describe('get and cat failures', () => {
  it('never leaves a partial file at the output path', async () => {
    const { cid } = await wa.add(keystream(3 * 2 ** 20), { pin: false })
    const out = join(dirs[1], 'out', 'file.bin')
    // abort midway
    const controller = new AbortController()
    const p = wb.get(cid, out, { signal: controller.signal, onProgress: ({ bytes }) => { if (bytes > 300_000) controller.abort() } })
    await expect(p).rejects.toHaveProperty('code', 'ERR_ABORTED')
    expect(existsSync(out)).toBe(false)
    expect(await readdir(join(dirs[1], 'out'))).toEqual([])
    // missing content times out as ContentNotFoundError, nothing written
    const missing = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'
    await expect(wb.get(missing, out, { timeout: 500 })).rejects.toHaveProperty('code', 'ERR_NOT_FOUND')
    expect(await readdir(join(dirs[1], 'out'))).toEqual([])
    // and a complete get works
    await wb.get(cid, out)
    expect(await sha256(createReadStream(out))).toBe(await sha256(keystream(3 * 2 ** 20)))
  })

  it('bad CIDs throw InvalidCidError', async () => {
    expect(() => wb.cat('not-a-cid')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CID' }))
    await expect(wb.pin('not-a-cid')).rejects.toHaveProperty('code', 'ERR_INVALID_CID')
    await expect(wb.get('bafy???')).rejects.toHaveProperty('code', 'ERR_INVALID_CID')
    await expect(wb.unpin('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG')).rejects.toHaveProperty('code', 'ERR_NOT_PINNED')
  })

  it('unpin then gc frees the blocks', async () => {
    const { cid } = await wa.add(randomBytes(1024 * 1024 + 5))
    const before = await wa.stats()
    await wa.unpin(cid)
    expect(await wa.isPinned(cid)).toBe(false)
    const gc = await wa.gc()
    expect(gc.removed).toBeGreaterThanOrEqual(5)
    expect(gc.freedBytes).toBeGreaterThan(1024 * 1024)
    const after = await wa.stats()
    expect(after.repoBytes).toBe(before.repoBytes - gc.freedBytes)
  })
})
