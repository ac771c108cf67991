/**
 * Small-file I/O in batches on the I/O threads (util/io-threads.ts), with synchronous fs calls.
 *
 * A folder of 10,000 small files costs about ten fs calls a file (open,
 * read, close of the file; existence check, open, write, close, rename of
 * its block). Each async call is a trip through libuv's pool and a promise
 * on the main thread, and that overhead, not the disk, bounds the import.
 * Here the calls run back to back on a worker (the main thread keeps
 * encoding, hashing and accounting) and the main thread pays one message
 * per batch: requests queue while a batch runs and go as the next one.
 *
 * Only small payloads come here (callers route blocks and files of up to
 * MAX_BYTES); large ones are better served by the async calls, unless their
 * memory can be lent to the worker without a copy (`linkLent`: a received
 * block whose frame owns its `ArrayBuffer`). When no
 * worker can start, callers get `undefined` from `fsWorker()` and use the
 * async calls.
 */
import { ioThreadAt, ioThreadOnlineAt, ioThreadsUnavailable } from './io-threads.js'
import type { IoOps } from './io-threads.js'

/** Files up to this size are read whole through the worker. */
export const MAX_BYTES = 256 * 1024 + 64
/**
 * Block writes up to this size go through the worker. A larger block would be copied into the
 * message and written by one of two threads, where libuv's pool writes it in place on four:
 * `QuotaBlockstore.putMany` of 256 KiB blocks ran at 0.58x bare FsBlockstore through the worker.
 * (`linkLent` takes large blocks too: their buffer is transferred, not copied.)
 */
export const MAX_WRITE_BYTES = 64 * 1024
/** Requests in one message at most. */
const MAX_BATCH = 256
/** Messages in flight at once per role (one runs, one waits). */
const MAX_IN_FLIGHT = 2
/** The batch of requests run on an I/O thread (util/io-threads.ts): CommonJS, `require` and `ops` in scope. */
const FS_OPS: IoOps = {
  name: 'fs',
  source: `
const fs = require('node:fs')
const missing = (e) => e.code === 'ENOENT' || e.code === 'ENOTDIR'
function writeBlock (r) {
  try {
    fs.accessSync(r.file)
    return { existed: true }
  } catch (e) {
    if (!missing(e)) return { error: e.code, message: e.message }
  }
  try {
    try {
      fs.writeFileSync(r.temp, r.bytes)
    } catch (e) {
      if (e.code !== 'ENOENT') throw e
      fs.mkdirSync(r.dir, { recursive: true })
      fs.writeFileSync(r.temp, r.bytes)
    }
    fs.renameSync(r.temp, r.file)
    return { existed: false }
  } catch (e) {
    try { fs.rmSync(r.temp, { force: true }) } catch {}
    return { error: e.code, message: e.message }
  }
}
function linkBlock (r) {
  const bytes = new Uint8Array(r.buffer, r.offset, r.length)
  try {
    try {
      fs.writeFileSync(r.temp, bytes)
    } catch (e) {
      if (e.code !== 'ENOENT') throw e
      fs.mkdirSync(r.dir, { recursive: true })
      fs.writeFileSync(r.temp, bytes)
    }
    let existed = false
    try {
      fs.linkSync(r.temp, r.file)
    } catch (e) {
      if (e.code !== 'EEXIST') throw e
      existed = true
    }
    try { fs.unlinkSync(r.temp) } catch {}
    return { existed, buffer: r.buffer }
  } catch (e) {
    try { fs.rmSync(r.temp, { force: true }) } catch {}
    return { error: e.code, message: e.message, buffer: r.buffer }
  }
}
function readFile (r) {
  let fd
  try {
    fd = fs.openSync(r.file, 'r')
    const size = fs.fstatSync(fd).size
    if (size > r.max) return { size }
    const buf = Buffer.allocUnsafeSlow(size)
    let filled = 0
    while (filled < size) {
      const n = fs.readSync(fd, buf, filled, size - filled, filled)
      if (n === 0) break
      filled += n
    }
    // grown since the stat: the caller reads it as a large file
    const more = fs.readSync(fd, Buffer.alloc(1), 0, 1, filled)
    if (filled < size || more > 0) return { size: size + 1 }
    return { size, bytes: buf }
  } catch (e) {
    return { error: e.code, message: e.message }
  } finally {
    if (fd != null) try { fs.closeSync(fd) } catch {}
  }
}
function readSized (r) {
  let fd
  try {
    fd = fs.openSync(r.file, 'r')
    const buf = Buffer.allocUnsafeSlow(r.size + 1)
    let filled = 0
    while (filled < buf.length) {
      const n = fs.readSync(fd, buf, filled, buf.length - filled, filled)
      if (n === 0) break
      filled += n
    }
    if (filled > r.size) return { size: filled }
    if (filled === r.size || filled > buf.length / 2) return { size: filled, bytes: buf.subarray(0, filled) }
    // much smaller than announced: its own small buffer (transferable, unlike a pooled Buffer)
    const small = new Uint8Array(filled)
    small.set(buf.subarray(0, filled))
    return { size: filled, bytes: small }
  } catch (e) {
    return missing(e) ? { absent: true } : { error: e.code, message: e.message }
  } finally {
    if (fd != null) try { fs.closeSync(fd) } catch {}
  }
}
function createFile (r) {
  try {
    fs.writeFileSync(r.file, r.bytes, { flag: 'wx' })
    return {}
  } catch (e) {
    return { error: e.code, message: e.message }
  }
}
const run = { write: writeBlock, link: linkBlock, read: readFile, sized: readSized, create: createFile }
ops.fs = (requests) => {
  const results = requests.map((r) => run[r.op](r))
  return [results, results.flatMap((r) => r.bytes != null ? [r.bytes.buffer] : r.buffer != null ? [r.buffer] : [])]
}
`
}

interface WriteRequest { op: 'write', file: string, temp: string, dir: string, bytes: Uint8Array }
/** A lent buffer: `length` bytes at `offset` of `buffer` are the block; the buffer comes back in the result. */
interface LinkRequest { op: 'link', file: string, temp: string, dir: string, buffer: ArrayBuffer, offset: number, length: number }
interface ReadRequest { op: 'read', file: string, max: number }
interface SizedReadRequest { op: 'sized', file: string, size: number }
interface CreateRequest { op: 'create', file: string, bytes: Uint8Array }
type Request = WriteRequest | LinkRequest | ReadRequest | SizedReadRequest | CreateRequest
interface Result { existed?: boolean, absent?: boolean, size?: number, bytes?: Uint8Array, buffer?: ArrayBuffer, error?: string, message?: string }

interface Queued { request: Request, resolve: (r: Result) => void, reject: (err: Error) => void }

/** An fs error as the async calls throw it (with its `code`). */
function fsError (r: Result, file: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(r.message ?? `${r.error ?? 'fs error'}: ${file}`)
  err.code = r.error
  err.path = file
  return err
}

class FsWorker {
  private queue: Queued[] = []
  private inFlight = 0
  private scheduled = false

  /** `slot`: the I/O thread this role runs on (reads on 0, writes on 1 when there are two). */
  constructor (readonly slot: number) {}

  private pump (): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH)
      const thread = ioThreadAt(this.slot)
      if (thread == null) {
        const err = new Error('no I/O thread can start')
        for (const q of batch) q.reject(err)
        continue
      }
      const transfer = batch.flatMap(q => q.request.op === 'write' || q.request.op === 'create' ? [q.request.bytes.buffer as ArrayBuffer] : q.request.op === 'link' ? [q.request.buffer] : [])
      this.inFlight++
      thread.run<Result[]>(FS_OPS, batch.map(q => q.request), transfer).then(
        (results) => { batch.forEach((q, i) => { q.resolve(results[i]) }) },
        (err: Error) => { for (const q of batch) q.reject(err) }
      ).finally(() => {
        this.inFlight--
        this.pump()
      })
    }
  }

  private async run (request: Request): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject })
      // the requests of this turn of the event loop go in one message
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => {
          this.scheduled = false
          this.pump()
        })
      }
    })
  }

  /**
   * Writes `bytes` to `file` through `temp` + rename, unless `file` exists. Resolves whether it
   * existed; rejects with the fs error (no temp file left).
   */
  async writeIfAbsent (file: string, temp: string, dir: string, bytes: Uint8Array): Promise<{ existed: boolean }> {
    // the worker gets its own copy (transferred, not cloned again): the caller keeps its bytes
    // (a copy made here: Buffer#slice would share the caller's memory, and detach it)
    const copy = new Uint8Array(bytes.byteLength)
    copy.set(bytes)
    const r = await this.run({ op: 'write', file, temp, dir, bytes: copy })
    if (r.error != null) throw fsError(r, file)
    return { existed: r.existed === true }
  }

  /**
   * Writes a block to `temp` and hard-links it to `file` (EEXIST: it was there; the temp is
   * removed either way), with no copy: `bytes`' whole `ArrayBuffer` is transferred to the worker
   * (detached here meanwhile) and back. `returned` gets the same bytes on the buffer that came
   * back, before this settles, on success and on an fs error alike. Rejects with the fs error
   * (a `link` the file system refuses too: EPERM, ENOTSUP...); no temp file is left behind.
   */
  async linkLent (file: string, temp: string, dir: string, bytes: Uint8Array, returned: (bytes: Uint8Array) => void): Promise<{ existed: boolean }> {
    const { byteOffset: offset, byteLength: length } = bytes
    const r = await this.run({ op: 'link', file, temp, dir, buffer: bytes.buffer as ArrayBuffer, offset, length })
    if (r.buffer != null) returned(new Uint8Array(r.buffer, offset, length))
    if (r.error != null) throw fsError(r, file)
    return { existed: r.existed === true }
  }

  /** The whole file when it has at most `max` bytes; otherwise only its size (more than `max`). */
  async readSmall (file: string, max: number): Promise<{ size: number, bytes?: Uint8Array }> {
    const r = await this.run({ op: 'read', file, max })
    if (r.error != null) throw fsError(r, file)
    return { size: r.size ?? 0, bytes: r.bytes != null ? new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength) : undefined }
  }

  /**
   * The file when it has at most `size` bytes (one open, one read of `size + 1` bytes, one close:
   * no `fstat`); `{ tooLarge: true }` when it has more; undefined when it does not exist.
   */
  async readSized (file: string, size: number): Promise<Uint8Array | { tooLarge: true } | undefined> {
    const r = await this.run({ op: 'sized', file, size })
    if (r.error != null) throw fsError(r, file)
    if (r.absent === true) return undefined
    if (r.bytes == null) return { tooLarge: true }
    return new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength)
  }

  /**
   * Creates `file` (it must not exist: flag `wx`) holding `bytes`. The bytes are copied for the
   * worker (the caller keeps its own). Rejects with the fs error; a failed write may leave a
   * partial file (the caller removes its temp folder).
   */
  async createFile (file: string, bytes: Uint8Array): Promise<void> {
    const copy = new Uint8Array(bytes.byteLength)
    copy.set(bytes)
    const r = await this.run({ op: 'create', file, bytes: copy })
    if (r.error != null) throw fsError(r, file)
  }
}

const roles = { read: new FsWorker(0), write: new FsWorker(1) }

/**
 * The process's fs worker for reads or for writes (on two I/O threads when there are two cores:
 * a folder import reads files and writes blocks at once), or undefined when its thread cannot
 * run or is still booting (the caller uses async calls: a `get` reads its root through libuv
 * rather than wait 30-90 ms for the thread).
 */
export function fsWorker (role: 'read' | 'write'): FsWorker | undefined {
  const r = roles[role]
  // started here, as the caller is about to use it
  return !ioThreadsUnavailable() && ioThreadOnlineAt(r.slot) ? r : undefined
}

export type { FsWorker }
