/**
 * A libp2p private-network connection protector, wire compatible with
 * `@libp2p/pnet` and Kubo (24-byte nonces exchanged in clear, then every byte
 * XORed with an XSalsa20 stream keyed by the swarm key).
 *
 * Why not `@libp2p/pnet` itself: its `xsalsa20` WASM dependency shares one
 * WebAssembly memory between all connections, grows it for every large buffer
 * and crashes the process with "WebAssembly.Memory.grow(): Maximum memory size
 * exceeded" during large transfers (seen here with 64 MiB): it grows that memory
 * to the size of each buffer passed. This one feeds the same WASM XSalsa20
 * (~2x faster than pure JS here) at most 64 KiB at a time, so its memory
 * stays at a few pages, and frees each connection's slot when the connection
 * closes; where the `xsalsa20` package cannot be loaded it falls back to the
 * audited pure-JS `@noble/ciphers` XSalsa20. It also applies the workspace's
 * bandwidth limits to the connection.
 */
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { InvalidParametersError } from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import type { Limiter } from './bandwidth.js'
import type { AbortOptions, ConnectionProtector, MessageStream, MultiaddrConnection } from '@libp2p/interface'

type Uint8ArrayList = Parameters<AbstractMultiaddrConnection['sendData']>[0]

const NONCE_LENGTH = 24
const KEY_LENGTH = 32
const BLOCK = 64
/** Bytes per write when an upload limit applies. */
const LIMITED_SLICE = 16384

/** An XSalsa20 keystream XOR, one per direction of a connection. */
export interface KeyStream {
  /** XORs `data` with the next bytes of the keystream, into a new buffer. */
  update(data: Uint8Array): Uint8Array
  /** Same as `update`, but may write into `data` (which the caller owns) instead of a new buffer. */
  updateOwned(data: Uint8Array): Uint8Array
  /** Frees what the stream holds (its key is wiped). */
  destroy(): void
}

interface WasmXSalsa20 {
  update(input: Uint8Array, output?: Uint8Array): Uint8Array
  finalize(): void
}
type WasmXSalsa20Factory = (nonce: Uint8Array, key: Uint8Array) => WasmXSalsa20

/** The largest piece given to the WASM XSalsa20 at once (its shared memory grows to the piece). */
const WASM_PIECE = 65536

let wasmFactory: WasmXSalsa20Factory | null | undefined

/** `xsalsa20` (WASM, the package @libp2p/pnet uses), or `null` when it cannot be loaded. */
function loadWasmXSalsa20 (): WasmXSalsa20Factory | null {
  if (wasmFactory !== undefined) return wasmFactory
  wasmFactory = null
  if (process.env.OTHERTHING_PNET_CIPHER === 'js' || typeof WebAssembly === 'undefined') return wasmFactory
  const require = createRequire(import.meta.url)
  for (const from of [import.meta.url, '@libp2p/pnet']) {
    try {
      const req = from === import.meta.url ? require : createRequire(require.resolve(from))
      const f = req('xsalsa20') as WasmXSalsa20Factory & { NONCEBYTES?: number }
      if (typeof f === 'function' && f.NONCEBYTES === NONCE_LENGTH) {
        wasmFactory = f
        break
      }
    } catch {}
  }
  return wasmFactory
}

/** XSalsa20 through the `xsalsa20` WASM module, in pieces of at most 64 KiB. */
class WasmXSalsa20Stream implements KeyStream {
  private xor: WasmXSalsa20 | undefined

  constructor (factory: WasmXSalsa20Factory, nonce: Uint8Array, key: Uint8Array) {
    this.xor = factory(nonce, key)
  }

  update (data: Uint8Array): Uint8Array {
    return this.xorInto(data, new Uint8Array(data.byteLength))
  }

  updateOwned (data: Uint8Array): Uint8Array {
    // the module copies each piece into its own memory and back: in place is safe
    return this.xorInto(data, data)
  }

  private xorInto (data: Uint8Array, out: Uint8Array): Uint8Array {
    const xor = this.xor
    if (xor == null) throw new Error('XSalsa20 stream destroyed')
    for (let o = 0; o < data.byteLength; o += WASM_PIECE) {
      const end = Math.min(o + WASM_PIECE, data.byteLength)
      xor.update(data.subarray(o, end), out.subarray(o, end))
    }
    return out
  }

  destroy (): void {
    this.xor?.finalize()
    this.xor = undefined
  }
}

/** The fastest XSalsa20 keystream available (WASM, else pure JS). */
export function createKeyStream (nonce: Uint8Array, key: Uint8Array): KeyStream {
  const wasm = loadWasmXSalsa20()
  return wasm != null ? new WasmXSalsa20Stream(wasm, nonce, key) : new XSalsa20Stream(nonce, key)
}

/** A seekable XSalsa20 keystream XOR in pure JS (any chunking gives the same stream). */
export class XSalsa20Stream implements KeyStream {
  private readonly key: Uint8Array
  private readonly nonce: Uint8Array
  private position = 0

  constructor (nonce: Uint8Array, key: Uint8Array) {
    this.nonce = nonce
    this.key = key
  }

  update (data: Uint8Array): Uint8Array {
    // @noble/ciphers XORs a word at a time only when input and output are 4-byte aligned
    // (5x faster than its byte loop): copy the data into a fresh buffer at the offset of
    // the current keystream block, so keystream blocks start on the buffer's 64-byte
    // boundaries, and XOR in place. The first `offset` bytes are scratch.
    const offset = this.position % BLOCK
    const buf = new Uint8Array(offset + data.byteLength)
    buf.set(data, offset)
    xsalsa20(this.key, this.nonce, buf, buf, Math.floor(this.position / BLOCK))
    this.position += data.byteLength
    return buf.subarray(offset)
  }

  updateOwned (data: Uint8Array): Uint8Array {
    return this.update(data)
  }

  destroy (): void {}
}

interface BoxInit {
  maConn: MultiaddrConnection
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  psk: Uint8Array
  limiter?: Limiter
}

class PrivateConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection
  private readonly inbound: KeyStream
  private readonly outbound: KeyStream
  private readonly limiter?: Limiter
  private upTimer?: ReturnType<typeof setTimeout>
  private downTimer?: ReturnType<typeof setTimeout>

  constructor (init: BoxInit) {
    super({
      log: init.maConn.log.newScope('private'),
      remoteAddr: init.maConn.remoteAddr,
      direction: init.maConn.direction,
      // with an upload limit, hand bytes to sendData in slices: it stops after the slice that
      // goes into debt (one large buffered write would pass the limit in one go)
      maxMessageSize: init.limiter?.up != null ? LIMITED_SLICE : undefined
    })
    this.maConn = init.maConn
    this.limiter = init.limiter
    this.inbound = createKeyStream(init.remoteNonce, init.psk)
    this.outbound = createKeyStream(init.localNonce, init.psk)
    this.maConn.addEventListener('message', (evt) => {
      const data = evt.data
      let bytes = 0
      // socket reads are fresh buffers nobody else holds: decrypt them in place
      if (data instanceof Uint8Array) {
        bytes = data.byteLength
        this.onData(this.inbound.updateOwned(data))
      } else {
        for (const buf of data) {
          bytes += buf.byteLength
          this.onData(this.inbound.updateOwned(buf))
        }
      }
      const wait = this.limiter?.down?.take(bytes) ?? 0
      if (wait > 0 && this.downTimer == null) {
        this.maConn.pause()
        this.downTimer = setTimeout(() => {
          this.downTimer = undefined
          if (this.status === 'open') this.maConn.resume()
        }, wait)
      }
    })
    this.maConn.addEventListener('drain', () => {
      if (this.upTimer == null) this.onMuxerDrain()
    })
    this.maConn.addEventListener('close', (evt) => {
      this.clearTimers()
      this.inbound.destroy()
      this.outbound.destroy()
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error)
        else this.onRemoteReset()
      } else {
        this.onTransportClosed()
      }
    })
  }

  private clearTimers (): void {
    if (this.upTimer != null) clearTimeout(this.upTimer)
    if (this.downTimer != null) clearTimeout(this.downTimer)
    this.upTimer = undefined
    this.downTimer = undefined
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    this.clearTimers()
    await this.maConn.close(options)
  }

  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
    // several chunks are concatenated into a new buffer, which is ours to encrypt in place;
    // a single chunk is the caller's and is copied
    const plain = data.subarray()
    const owned = !(data as unknown as { bufs: Uint8Array[] }).bufs.includes(plain)
    let canSendMore = this.maConn.send(owned ? this.outbound.updateOwned(plain) : this.outbound.update(plain))
    const wait = this.limiter?.up?.take(data.byteLength) ?? 0
    if (wait > 0) {
      canSendMore = false
      if (this.upTimer == null) {
        this.upTimer = setTimeout(() => {
          this.upTimer = undefined
          this.onMuxerDrain()
        }, wait)
      }
    }
    return { sentBytes: data.byteLength, canSendMore }
  }

  sendReset (err: Error): void {
    this.clearTimers()
    this.maConn.abort(err)
  }

  sendPause (): void {
    this.maConn.pause()
  }

  sendResume (): void {
    this.maConn.resume()
  }
}

export interface PrivateNetworkInit {
  /** The 32 raw bytes of the swarm key. */
  psk: Uint8Array
  /** Bandwidth buckets shared by every connection. */
  limiter?: Limiter
  /** Nonce exchange timeout when no signal is given, ms. @default 5000 */
  timeout?: number
}

class PrivateNetworkProtector implements ConnectionProtector {
  private readonly psk: Uint8Array
  private readonly limiter?: Limiter
  private readonly timeout: number
  readonly [Symbol.toStringTag] = 'otherthing-storage/pnet'

  constructor (init: PrivateNetworkInit) {
    if (init.psk.byteLength !== KEY_LENGTH) throw new InvalidParametersError('The pre-shared key must be 32 bytes')
    this.psk = Uint8Array.from(init.psk)
    this.limiter = init.limiter
    this.timeout = init.timeout ?? 5000
  }

  async protect (connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    if (connection == null) throw new InvalidParametersError('No connection for the handshake provided')
    const localNonce = new Uint8Array(randomBytes(NONCE_LENGTH))
    const opts = options?.signal != null ? options : { ...options, signal: AbortSignal.timeout(this.timeout) }
    const bytes = byteStream(connection)
    const [result] = await Promise.all([
      bytes.read({ bytes: NONCE_LENGTH, ...opts }),
      bytes.write(localNonce, opts)
    ])
    const remoteNonce = result.subarray()
    return new PrivateConnection({
      localNonce,
      remoteNonce,
      psk: this.psk,
      maConn: bytes.unwrap() as MultiaddrConnection,
      limiter: this.limiter
    })
  }
}

/** A connection protector for the workspace's private network. */
export function privateNetwork (init: PrivateNetworkInit): () => ConnectionProtector {
  return () => new PrivateNetworkProtector(init)
}
