/**
 * Baselines measured in the same run as our operations: `sha256sum` and `cp`
 * of the same file, a raw TCP pipe between two processes, and the ciphers of
 * the pnet + noise stack on one core.
 */
import { spawn } from 'node:child_process'
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { XSalsa20Stream } from '../../src/node/pnet.js'
import { startChild, type BenchChild } from './child.js'

export interface Timed<T = undefined> {
  ms: number
  result: T
}

/** Run a command to completion; reject on a non-zero exit. Stdout is returned. */
export async function runCommand (cmd: string, args: string[]): Promise<Timed<string>> {
  const start = performance.now()
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    child.stderr.on('data', (b: Buffer) => { err += b.toString() })
    child.on('error', reject)
    child.on('close', code => {
      const ms = performance.now() - start
      if (code === 0) resolve({ ms, result: out })
      else reject(new Error(`${cmd} exited with ${String(code)}: ${err.trim()}`))
    })
  })
}

/** `sha256sum <file>` (read + SHA-256, the floor for content addressing). */
export async function sha256sum (file: string): Promise<Timed<string>> {
  const r = await runCommand('sha256sum', [file])
  return { ms: r.ms, result: r.result.split(/\s+/)[0] }
}

/** `cp <from> <to>` (read + write of the same bytes). */
export async function cp (from: string, to: string): Promise<Timed> {
  const r = await runCommand('cp', [from, to])
  return { ms: r.ms, result: undefined }
}

/** `cp -r <from> <to>` (many small files). */
export async function cpRecursive (from: string, to: string): Promise<Timed> {
  const r = await runCommand('cp', ['-r', from, to])
  return { ms: r.ms, result: undefined }
}

export interface TcpPipeResult {
  ms: number
  bytes: number
  senderRssBytes: number
  receiverRssBytes: number
  /** user + system CPU of the sender and the receiver during the transfer, ms */
  senderCpuMs: number
  receiverCpuMs: number
}

/** User + system CPU a bench child has used so far, ms (robust under load, unlike wall time). */
export async function childCpuMs (child: Pick<BenchChild, 'request'>): Promise<number> {
  return (await childUsage(child)).cpuMs
}

/** A bench child's CPU so far (user + system, ms), its peak RSS so far (bytes) and the peaks of its heap fields. */
export async function childUsage (child: Pick<BenchChild, 'request'>): Promise<{ cpuMs: number, peakRssBytes: number, memoryPeaks: Record<string, number> }> {
  const u = await child.request<{ cpuMicros: number, peakRssBytes: number, memoryPeaks: Record<string, number> }>('usage')
  return { cpuMs: u.cpuMicros / 1000, peakRssBytes: u.peakRssBytes, memoryPeaks: u.memoryPeaks }
}

/** Stream `file` from one child process to another over TCP on 127.0.0.1; the receiver writes it to `out`. */
export async function rawTcpPipe (file: string, out: string): Promise<TcpPipeResult> {
  const receiver = await startChild('tcp')
  const sender = await startChild('tcp')
  try {
    const { port } = await receiver.request<{ port: number }>('listen', { out })
    const [s0, r0] = await Promise.all([childCpuMs(sender), childCpuMs(receiver)])
    const start = performance.now()
    const done = receiver.request<{ bytes: number, ms: number }>('received')
    await sender.request('send', { port, file })
    const { bytes } = await done
    const ms = performance.now() - start
    const [s1, r1] = await Promise.all([childCpuMs(sender), childCpuMs(receiver)])
    const [s, r] = await Promise.all([sender.stop(), receiver.stop()])
    return { ms, bytes, senderRssBytes: s.maxRssBytes, receiverRssBytes: r.maxRssBytes, senderCpuMs: s1 - s0, receiverCpuMs: r1 - r0 }
  } finally {
    sender.kill()
    receiver.kill()
  }
}

type XorStream = { update: (input: Uint8Array, output?: Uint8Array) => Uint8Array, finalize: () => void }
type XSalsa20 = (nonce: Uint8Array, key: Uint8Array) => XorStream

/** The xsalsa20 package @libp2p/pnet uses, resolved from @libp2p/pnet's own dependencies. */
export function loadXSalsa20 (): XSalsa20 {
  const pnetRequire = createRequire(createRequire(import.meta.url).resolve('@libp2p/pnet'))
  return pnetRequire('xsalsa20') as XSalsa20
}

export interface CipherResult {
  bytes: number
  /** XSalsa20 of @libp2p/pnet (the `xsalsa20` WASM package) over the bytes, one direction. */
  xsalsa20Ms: number
  /** XSalsa20 of our protector (src/node/pnet.ts, @noble/ciphers), which the node really uses. */
  nobleXsalsa20Ms: number
  /** ChaCha20-Poly1305 seal (noise) in 65519-byte frames, as libp2p-noise does in Node. */
  chachaSealMs: number
  /** ChaCha20-Poly1305 open of those frames. */
  chachaOpenMs: number
}

/** Time the ciphers of a pnet + noise connection over `bytes` bytes on this core, in `frame`-sized messages. */
export function measureCiphers (bytes: number, frame = 65535 - 16): CipherResult {
  const xsalsa20 = loadXSalsa20()
  const key = randomBytes(32)
  const data = randomBytes(Math.max(2 * frame, Math.min(bytes, 16 * 1024 * 1024)))
  const frames = Math.ceil(bytes / frame)

  // pnet: one XOR stream per direction, fed chunk by chunk
  const xor = xsalsa20(randomBytes(24), randomBytes(32))
  let start = performance.now()
  for (let off = 0, done = 0; done < bytes; off = (off + frame) % (data.length - frame), done += frame) {
    xor.update(data.subarray(off, off + frame))
  }
  const xsalsa20Ms = performance.now() - start
  xor.finalize()

  const noble = new XSalsa20Stream(randomBytes(24), randomBytes(32))
  start = performance.now()
  for (let off = 0, done = 0; done < bytes; off = (off + frame) % (data.length - frame), done += frame) {
    noble.update(data.subarray(off, off + frame))
  }
  const nobleXsalsa20Ms = performance.now() - start

  // noise: a fresh cipher per frame with a counter nonce and empty AD (libp2p-noise nodeCrypto)
  const nonce = Buffer.alloc(12)
  const ad = Buffer.alloc(0)
  const sealed: Buffer[] = []
  start = performance.now()
  for (let i = 0, off = 0; i < frames; i++, off = (off + frame) % (data.length - frame)) {
    nonce.writeUInt32LE(i, 4)
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    c.setAAD(ad, { plaintextLength: frame })
    const body = c.update(data.subarray(off, off + frame))
    c.final()
    const frameOut = Buffer.concat([body, c.getAuthTag()])
    if (i < 64) sealed.push(frameOut)
  }
  const chachaSealMs = performance.now() - start

  start = performance.now()
  for (let i = 0; i < frames; i++) {
    const idx = i % sealed.length
    const ct = sealed[idx]
    nonce.writeUInt32LE(idx, 4)
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    d.setAAD(ad, { plaintextLength: ct.length - 16 })
    d.setAuthTag(ct.subarray(ct.length - 16))
    d.update(ct.subarray(0, ct.length - 16))
    d.final()
  }
  const chachaOpenMs = performance.now() - start
  return { bytes: frames * frame, xsalsa20Ms, nobleXsalsa20Ms, chachaSealMs, chachaOpenMs }
}
