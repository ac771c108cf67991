/**
 * Raw TCP baseline: `listen` starts a sink on 127.0.0.1 that writes what it
 * receives to a file; `send` streams a file to a port. No encryption, no
 * multiplexing: the ceiling for a transfer between two processes.
 */
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import { pipeline } from 'node:stream/promises'
import type { Handlers } from './entry.js'

let server: net.Server | undefined
let received: Promise<{ bytes: number, ms: number }> | undefined

export const handlers: Handlers = {
  async listen (args: { out: string }) {
    server = net.createServer()
    let resolveDone!: (v: { bytes: number, ms: number }) => void
    let rejectDone!: (e: Error) => void
    received = new Promise((resolve, reject) => { resolveDone = resolve; rejectDone = reject })
    server.on('connection', socket => {
      const start = performance.now()
      let bytes = 0
      socket.on('data', (b: Buffer) => { bytes += b.length })
      pipeline(socket, fs.createWriteStream(args.out)).then(
        () => resolveDone({ bytes, ms: performance.now() - start }),
        rejectDone
      )
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const address = server.address() as net.AddressInfo
    return { port: address.port }
  },
  async received () {
    if (received === undefined) throw new Error('not listening')
    return await received
  },
  async send (args: { port: number, file: string }) {
    const start = performance.now()
    const socket = net.connect(args.port, '127.0.0.1')
    await once(socket, 'connect')
    await pipeline(fs.createReadStream(args.file, { highWaterMark: 256 * 1024 }), socket)
    return { ms: performance.now() - start }
  },
  async stop () {
    server?.close()
  }
}
