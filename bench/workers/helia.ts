/**
 * Stock Helia doing what our node does in the add/get/cat rows, for comparison in the same run:
 * `createHeliaLight` (no libp2p) over blockstore-fs and datastore-level on the same disk,
 * `@helia/unixfs` with Kubo's import options (CIDv0, dag-pb leaves, 256 KiB fixed-size chunks,
 * balanced layout of 174 links, a single leaf reduced to itself) and a recursive pin after the
 * add (as `ipfs add` pins); `cat` to a file through a write stream, or bytes counted.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { unixfs, type UnixFS } from '@helia/unixfs'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import { createHeliaLight, type Helia } from 'helia'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import type { Handlers } from './entry.js'

let helia: Helia | undefined
let fsApi: UnixFS | undefined

function api (): UnixFS {
  if (fsApi === undefined) throw new Error('helia not started')
  return fsApi
}

export const handlers: Handlers = {
  async start (args: { storagePath: string }) {
    await fsp.mkdir(args.storagePath, { recursive: true })
    helia = createHeliaLight({
      blockstore: new FsBlockstore(path.join(args.storagePath, 'blocks')),
      datastore: new LevelDatastore(path.join(args.storagePath, 'datastore'))
    })
    await helia.start()
    fsApi = unixfs(helia)
    return {}
  },
  async addFile (args: { path: string }) {
    const start = performance.now()
    const cid = await api().addByteStream(fs.createReadStream(args.path), {
      cidVersion: 0,
      rawLeaves: false,
      reduceSingleLeafToSelf: true,
      chunker: fixedSize({ chunkSize: 262144 }),
      layout: balanced({ maxChildrenPerNode: 174 })
    })
    for await (const _ of (helia as Helia).pins.add(cid)) { /* walks the DAG */ }
    return { cid: cid.toString(), ms: performance.now() - start }
  },
  async get (args: { cid: string, out: string }) {
    const start = performance.now()
    await pipeline(api().cat(CID.parse(args.cid)), fs.createWriteStream(args.out, { flags: 'wx' }))
    return { ms: performance.now() - start }
  },
  async cat (args: { cid: string }) {
    const start = performance.now()
    let bytes = 0
    for await (const chunk of api().cat(CID.parse(args.cid))) bytes += chunk.byteLength
    return { ms: performance.now() - start, bytes }
  },
  async stop () {
    const h = helia
    helia = undefined
    fsApi = undefined
    await h?.stop()
  }
}
