/**
 * A libp2p private-network connection protector, wire compatible with
 * `@libp2p/pnet` and Kubo (24-byte nonces exchanged in clear, then every byte
 * XORed with an XSalsa20 stream keyed by the swarm key).
 *
 * Why not `@libp2p/pnet` itself:
 * - Speed and memory. Its `xsalsa20` WASM shares one WebAssembly memory between
 *   all connections and grows it to the size of every buffer passed (it crashed
 *   with "WebAssembly.Memory.grow(): Maximum memory size exceeded" during 64 MiB
 *   transfers), at ~0.5 GB/s. Here the keystream is libsodium's streaming
 *   XSalsa20 (`sodium-native`, N-API prebuilds, ~2.9 GB/s), decrypting socket
 *   reads in place, with the audited pure-JS `@noble/ciphers` where the addon
 *   cannot load (xsalsa20.ts). The WASM is gone: one native path, one pure-JS
 *   fallback, both tested against each other and against `@libp2p/pnet`.
 * - Outsiders (pnet-guard.ts). The handshake has its own short deadline
 *   (`handshakeTimeout`, nonces and the first multistream header), and peers
 *   dialing us hold at most `maxPendingPerHost` handshakes per remote host at
 *   once: silent or garbage-sending sockets from one address cannot take every
 *   pending-upgrade slot and lock members out.
 * - A named, fast refusal. After the nonces the first bytes each side reads
 *   must decrypt to multistream-select's header; anything else is another key
 *   (or no pnet at all: a clear header), failed at once with
 *   `SwarmKeyMismatchError` instead of a stall until the dial timeout. The
 *   refusing listener sends its own (encrypted) header before closing, so the
 *   dialer sees garbage and fails just as fast, with the same error.
 * - The workspace's bandwidth limits apply to the connection (bandwidth.ts).
 */
import { randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import { InvalidParametersError } from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import { Uint8ArrayList as List } from 'uint8arraylist'
import { SwarmKeyMismatchError, TimeoutError } from '../errors.js'
import { HEADROOM, SentBuffers, takeSealed } from './sealed-headroom.js'
import { hostOf, MSS_HEADER, PendingSlots, recordHandshake, recordMismatch } from './pnet-guard.js'
import { createKeyStream, resolveCipher } from './xsalsa20.js'
import type { MismatchReason, PnetMonitor } from './pnet-guard.js'
import type { KeyStream, PnetCipher } from './xsalsa20.js'
import type { Limiter } from './bandwidth.js'
import type { AbortOptions, ConnectionProtector, MessageStream, MultiaddrConnection } from '@libp2p/interface'

export { createKeyStream, XSalsa20Stream } from './xsalsa20.js'
export type { KeyStream, PnetCipher } from './xsalsa20.js'
export { createPnetMonitor } from './pnet-guard.js'
export type { PnetMonitor, PnetMonitorInit, PnetMonitorEvents, SwarmKeyMismatch, MismatchReason } from './pnet-guard.js'

type Uint8ArrayList = Parameters<AbstractMultiaddrConnection['sendData']>[0]

const NONCE_LENGTH = 24
const KEY_LENGTH = 32
/** Bytes per write when an upload limit applies. */
const LIMITED_SLICE = 16384

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

interface BoxInit {
  maConn: MultiaddrConnection
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  psk: Uint8Array
  cipher: PnetCipher
  limiter?: Limiter
  monitor?: PnetMonitor
  /** ms left for the multistream header to arrive */
  deadline: number
  /** frees the pending-handshake slot (inbound) */
  release: () => void
}

class PrivateConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection
  private readonly inbound: KeyStream
  private readonly outbound: KeyStream
  private readonly limiter?: Limiter
  private readonly monitor?: PnetMonitor
  private readonly release: () => void
  private upTimer?: ReturnType<typeof setTimeout>
  private downTimer?: ReturnType<typeof setTimeout>
  /** bytes of the remote's multistream header checked so far (MSS_HEADER.length: verified) */
  private checked = 0
  private failed = false
  private handshakeTimer?: ReturnType<typeof setTimeout>
  /** noise messages handed to the socket, reused once it wrote them (sealed-headroom.ts) */
  private readonly sent = new SentBuffers()
  /** the TCP socket under the connection, when it is one: says when it has written everything */
  private readonly socket?: { writableLength: number }

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
    const socket = (init.maConn as { socket?: unknown }).socket
    if (socket instanceof Socket) this.socket = socket
    this.limiter = init.limiter
    this.monitor = init.monitor
    this.release = init.release
    this.inbound = createKeyStream(init.remoteNonce, init.psk, init.cipher)
    this.outbound = createKeyStream(init.localNonce, init.psk, init.cipher)
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = undefined
      this.release()
      this.abort(new TimeoutError(`Private network handshake with ${this.remoteAddr.toString()} timed out`))
    }, init.deadline)
    this.maConn.addEventListener('message', (evt) => {
      if (this.failed) return
      const data = evt.data
      let bytes = 0
      // socket reads are fresh buffers nobody else holds: decrypt them in place
      if (data instanceof Uint8Array) {
        bytes = data.byteLength
        this.receive(this.inbound.updateOwned(data))
      } else {
        for (const buf of data) {
          bytes += buf.byteLength
          if (!this.receive(this.inbound.updateOwned(buf))) break
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
      // the connection sends what it queued in a microtask: look after it
      queueMicrotask(() => { this.recycleWritten() })
      if (this.upTimer == null) this.onMuxerDrain()
    })
    this.maConn.addEventListener('close', (evt) => {
      this.sent.clear()
      this.clearTimers()
      this.release()
      this.inbound.destroy()
      this.outbound.destroy()
      if (!this.failed && this.checked < MSS_HEADER.byteLength && !evt.local && this.direction === 'outbound') {
        // the listener hung up after the nonces without a word: it did not like our key
        this.failHandshake('closed')
        return
      }
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error)
        else this.onRemoteReset()
      } else {
        this.onTransportClosed()
      }
    })
  }

  /** Checks the first bytes against the multistream header, then passes data on. `false`: refused. */
  private receive (plain: Uint8Array): boolean {
    if (this.checked < MSS_HEADER.byteLength) {
      const n = Math.min(plain.byteLength, MSS_HEADER.byteLength - this.checked)
      if (!equalBytes(plain.subarray(0, n), MSS_HEADER.subarray(this.checked, this.checked + n))) {
        this.failHandshake('garbage')
        return false
      }
      this.checked += n
      if (this.checked === MSS_HEADER.byteLength) {
        if (this.handshakeTimer != null) clearTimeout(this.handshakeTimer)
        this.handshakeTimer = undefined
        this.release()
        recordHandshake(this.monitor, this.remoteAddr.toString(), this.direction)
      }
    }
    this.onData(plain)
    return true
  }

  private failHandshake (reason: MismatchReason): void {
    if (this.failed) return
    this.failed = true
    this.release()
    const remoteAddr = this.remoteAddr.toString()
    recordMismatch(this.monitor, { remoteAddr, direction: this.direction, reason, at: Date.now() })
    const err = new SwarmKeyMismatchError(`Private network handshake with ${remoteAddr} failed: the peer has another swarm key (${reason})`, { address: remoteAddr })
    if (this.direction === 'inbound' && this.maConn.status === 'open') {
      // what a listener sends first, under our key: a dialer with another key reads garbage and
      // fails at once too. Then end gracefully so the bytes go out before the socket closes.
      try {
        this.maConn.send(this.outbound.update(MSS_HEADER))
        void this.maConn.close({ signal: AbortSignal.timeout(1000) }).catch((e: Error) => { this.maConn.abort(e) })
      } catch (e) {
        this.log.error('could not send the refusal to %a - %e', this.remoteAddr, e)
      }
    }
    this.abort(err)
  }

  private clearTimers (): void {
    if (this.upTimer != null) clearTimeout(this.upTimer)
    if (this.downTimer != null) clearTimeout(this.downTimer)
    if (this.handshakeTimer != null) clearTimeout(this.handshakeTimer)
    this.upTimer = undefined
    this.downTimer = undefined
    this.handshakeTimer = undefined
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    this.clearTimers()
    await this.maConn.close(options)
  }

  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
    const out = this.encrypt(data)
    // a list of our uint8arraylist (2.x) is libp2p's (3.x) too: both know it by its Symbol.for marker
    let canSendMore = this.maConn.send(out.length === 1 ? out[0] : new List(...out) as unknown as Uint8ArrayList)
    this.recycleWritten()
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

  /**
   * The bytes of one send under the keystream. A noise message our seal left room for
   * (sealed-headroom.ts) after its 2-byte length is XORed in place with its length in front: one
   * buffer a message, nothing allocated or copied. Other chunks (handshakes, multistream-select,
   * tests' plain senders) are the caller's: XORed straight into their place in one new buffer
   * per run of them (no concatenation first: that copy was 0.85 ms/MiB on the provider).
   */
  private encrypt (data: Uint8ArrayList): Uint8Array[] {
    const chunks = [...data]
    const out: Uint8Array[] = []
    let run = 0
    let runBytes = 0
    const flush = (end: number): void => {
      if (run === end) return
      const cipher = Buffer.allocUnsafe(runBytes)
      let offset = 0
      for (let i = run; i < end; i++) {
        const chunk = chunks[i]
        this.outbound.updateInto(chunk, cipher.subarray(offset, offset + chunk.byteLength))
        offset += chunk.byteLength
      }
      out.push(cipher)
    }
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]
      const next = chunks[i + 1]
      const whole = chunk.byteLength === HEADROOM && next != null ? takeSealed(next) : undefined
      if (whole == null) {
        runBytes += chunk.byteLength
        continue
      }
      flush(i)
      whole.set(chunk, 0)
      this.outbound.updateOwned(whole)
      out.push(whole)
      this.sent.add(whole)
      i++
      run = i + 1
      runBytes = 0
    }
    flush(chunks.length)
    return out
  }

  /** Nothing queued in the connection nor in its socket: every message sent was written. */
  private recycleWritten (): void {
    if (this.socket != null && this.socket.writableLength === 0 && this.maConn.writeBufferLength === 0 && this.maConn.status === 'open') this.sent.written()
  }

  sendReset (err: Error): void {
    this.clearTimers()
    this.release()
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
  /** Nonces and the first multistream header must arrive within this, ms. @default 3000 */
  handshakeTimeout?: number
  /** Handshakes in progress at once from one remote host (peers dialing us). @default 8 */
  maxPendingPerHost?: number
  /** XSalsa20 implementation. @default 'auto' (libsodium, else pure JS; `OTHERTHING_PNET_CIPHER=js` forces pure JS) */
  cipher?: PnetCipher
  /** Counts handshakes and key mismatches, emits events, warns (see `createPnetMonitor`). */
  monitor?: PnetMonitor
}

/** Which XSalsa20 the protector's connections use (`'native'` = libsodium). */
export function pnetCipher (cipher?: PnetCipher): 'native' | 'js' {
  return resolveCipher(cipher)
}

class PrivateNetworkProtector implements ConnectionProtector {
  private readonly psk: Uint8Array
  private readonly init: PrivateNetworkInit
  private readonly timeout: number
  private readonly cipher: PnetCipher
  private readonly pending: PendingSlots
  readonly [Symbol.toStringTag] = 'otherthing-storage/pnet'

  constructor (init: PrivateNetworkInit) {
    if (init.psk.byteLength !== KEY_LENGTH) throw new InvalidParametersError('The pre-shared key must be 32 bytes')
    this.psk = Uint8Array.from(init.psk)
    this.init = init
    this.timeout = init.handshakeTimeout ?? 3000
    this.pending = new PendingSlots(init.maxPendingPerHost ?? 8)
    // fail at creation, not at the first connection, when 'native' is asked for and cannot load
    this.cipher = resolveCipher(init.cipher)
  }

  async protect (connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    if (connection == null) throw new InvalidParametersError('No connection for the handshake provided')
    const started = Date.now()
    const remoteAddr = (connection as Partial<MultiaddrConnection>).remoteAddr?.toString() ?? 'unknown address'
    let release = (): void => {}
    if (connection.direction === 'inbound') {
      const slot = this.pending.take(hostOf(remoteAddr))
      if (slot == null) throw new TimeoutError(`Too many private network handshakes in progress from ${hostOf(remoteAddr)}`)
      release = slot
    }
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(this.timeout), ...(options?.signal != null ? [options.signal] : [])])
      const localNonce = new Uint8Array(randomBytes(NONCE_LENGTH))
      const bytes = byteStream(connection)
      const [head] = await Promise.all([
        bytes.read({ bytes: MSS_HEADER.byteLength, signal }),
        bytes.write(localNonce, { signal })
      ])
      // a libp2p node without a private network starts with multistream's header in clear
      if (equalBytes(head.subarray(), MSS_HEADER)) {
        recordMismatch(this.init.monitor, { remoteAddr, direction: connection.direction, reason: 'no-pnet', at: Date.now() })
        throw new SwarmKeyMismatchError(`Private network handshake with ${remoteAddr} failed: the peer has no swarm key`, { address: remoteAddr })
      }
      const tail = await bytes.read({ bytes: NONCE_LENGTH - MSS_HEADER.byteLength, signal })
      const remoteNonce = new Uint8Array(NONCE_LENGTH)
      remoteNonce.set(head.subarray(), 0)
      remoteNonce.set(tail.subarray(), MSS_HEADER.byteLength)
      return new PrivateConnection({
        localNonce,
        remoteNonce,
        psk: this.psk,
        cipher: this.cipher,
        maConn: bytes.unwrap() as MultiaddrConnection,
        limiter: this.init.limiter,
        monitor: this.init.monitor,
        deadline: Math.max(1, this.timeout - (Date.now() - started)),
        release
      })
    } catch (err) {
      release()
      if (err instanceof SwarmKeyMismatchError || options?.signal?.aborted === true) throw err
      if ((err as Error)?.name === 'AbortError' || (err as Error)?.name === 'TimeoutError') {
        throw new TimeoutError(`Private network handshake with ${remoteAddr} timed out`, { cause: err })
      }
      throw err
    }
  }
}

/** A connection protector for the workspace's private network. */
export function privateNetwork (init: PrivateNetworkInit): () => ConnectionProtector {
  return () => new PrivateNetworkProtector(init)
}
