/**
 * pin from a workspace peer in another process over the private swarm on
 * loopback vs a raw TCP pipe of the same bytes between two processes, and vs
 * the ciphers alone (pnet XSalsa20 + noise ChaCha20-Poly1305) on one core.
 * Then N consecutive transfers of distinct content, each with a timeout:
 * target no stall. Target: pin >= 0.5x raw TCP. Then a pin from three
 * holders each held to the same upload limit vs a pin from one of them under
 * that limit: target >= 2.5x (MULTI_TARGET). Beside our pin, the same pin by two
 * stock Helia nodes (bitswap, stock @libp2p/pnet) over the same kind of swarm.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { measureCiphers, rawTcpPipe } from '../lib/baselines.js'
import { median, type BenchContext } from '../lib/context.js'
import { writeInputFile } from '../lib/files.js'
import { addInChild, benchWorkspace, transferInChildren } from '../lib/node-ops.js'
import { multiSourcePin } from '../lib/multi-pin.js'
import { startChild } from '../lib/child.js'
import { compare, MiB, type Row } from '../lib/report.js'
import { timeXSalsa20 } from './cipher.js'

export const PIN_TARGET = 0.5
export const MULTI_TARGET = 2.5
export const MULTI_HOLDERS = 3

/**
 * The upload limit of each holder: the single-holder pin takes about 8 s, and the three holders
 * together send at most half what the fetcher received from one unlimited peer in this run (a
 * bandwidth limit sits below what the link and the fetcher can carry; above that the row would
 * measure the fetcher's CPU, not the sharing).
 */
export function multiLimit (size: number, unlimitedBytesPerSecond: number): number {
  return Math.max(MiB, Math.round(Math.min(size / 8, unlimitedBytesPerSecond / (2 * MULTI_HOLDERS))))
}

/** Summarise the stall check: a row that passes when no transfer timed out or failed. */
export function stallRow (script: string, transfers: Array<{ ms?: number, error?: string }>, size: number, timeout: number): Row {
  const ok = transfers.filter(t => t.ms !== undefined).map(t => t.ms as number)
  const stalls = transfers.length - ok.length
  const errors = [...new Set(transfers.filter(t => t.error !== undefined).map(t => t.error))]
  const total = ok.reduce((a, b) => a + b, 0)
  return {
    script,
    name: `${transfers.length} consecutive pins of ${(size / MiB).toFixed(size < MiB ? 2 : 0)} MiB`,
    bytes: ok.length * size,
    ms: total,
    target: `0 stalls (timeout ${timeout / 1000} s)`,
    pass: transfers.length > 0 && stalls === 0,
    note: ok.length === 0
      ? `${stalls} stalls${errors.length > 0 ? `: ${errors.slice(0, 2).join('; ')}` : ''}`
      : `${stalls} stalls; per pin min/median/max ${Math.min(...ok).toFixed(0)}/${median(ok).toFixed(0)}/${Math.max(...ok).toFixed(0)} ms${errors.length > 0 ? `; ${errors.slice(0, 2).join('; ')}` : ''}`
  }
}

/** User + system CPU per MiB moved, ms, for a row's note (robust under load, unlike wall time). */
export function cpuPerMiB (cpuMs: number, bytes: number): string {
  return (cpuMs / (bytes / MiB)).toFixed(2)
}

export async function pinBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const file = await writeInputFile(ctx, 'pin')
  const ws = benchWorkspace()

  log('pin: raw TCP pipe between two processes')
  const tcpOut = path.join(dir, 'tcp-out.bin')
  const tcp = await rawTcpPipe(file, tcpOut)
  if (tcp.bytes !== options.size) throw new Error(`raw TCP moved ${tcp.bytes} bytes, expected ${options.size}`)
  await fs.rm(tcpOut, { force: true })
  const base: Row = {
    script: 'pin',
    name: 'raw TCP pipe, 2 processes (baseline)',
    bytes: options.size,
    ms: tcp.ms,
    peakRssBytes: Math.max(tcp.senderRssBytes, tcp.receiverRssBytes),
    note: `CPU ms/MiB sender ${cpuPerMiB(tcp.senderCpuMs, options.size)}, receiver ${cpuPerMiB(tcp.receiverCpuMs, options.size)}`
  }

  log('pin: ciphers alone on one core')
  const c = measureCiphers(options.cipherBytes)
  const sodiumMs = timeXSalsa20('native', c.bytes)
  const nobleMs = timeXSalsa20('js', c.bytes)
  const xs: Row = { script: 'pin', name: 'cipher: @libp2p/pnet XSalsa20 (WASM)', bytes: c.bytes, ms: c.xsalsa20Ms }
  const sodium: Row = { script: 'pin', name: 'cipher: our pnet XSalsa20 (libsodium, sodium-native)', bytes: c.bytes, ms: sodiumMs }
  const noble: Row = { script: 'pin', name: 'cipher: our pnet XSalsa20 fallback (@noble/ciphers)', bytes: c.bytes, ms: nobleMs }
  const seal: Row = { script: 'pin', name: 'cipher: noise ChaCha20-Poly1305 seal', bytes: c.bytes, ms: c.chachaSealMs }
  const open: Row = { script: 'pin', name: 'cipher: noise ChaCha20-Poly1305 open', bytes: c.bytes, ms: c.chachaOpenMs }
  // each side does one XSalsa20 pass (the node's own, libsodium) and one seal (sender) or open
  // (receiver): the slower side bounds a transfer
  const ceiling: Row = {
    script: 'pin',
    name: 'cipher ceiling per side (our XSalsa20 + ChaCha20-Poly1305)',
    bytes: c.bytes,
    ms: sodiumMs + Math.max(c.chachaSealMs, c.chachaOpenMs)
  }

  log('pin: adding the file on the provider')
  const providerPath = path.join(dir, 'provider')
  const added = await addInChild(providerPath, ws, file, 'kubo')
  log(`pin: pinning from another process, then ${options.transfers} transfers of ${options.transferSize} bytes`)
  const t = await transferInChildren({
    providerPath,
    fetcherPath: path.join(dir, 'fetcher'),
    ws,
    cid: added.cid,
    timeout: options.transferTimeout,
    transfers: options.transfers,
    transferSize: options.transferSize,
    cpuProfDir: options.cpuProf
  })
  const pin = compare({
    script: 'pin',
    name: 'pin from a workspace peer (pnet+noise+yamux, DAG transfer protocol)',
    bytes: options.size,
    ms: t.ms,
    peakRssBytes: Math.max(t.providerRssBytes, t.fetcherRssBytes),
    note: `provider RSS ${(t.providerRssBytes / MiB).toFixed(0)} MiB, fetcher ${(t.fetcherRssBytes / MiB).toFixed(0)} MiB; CPU ms/MiB provider ${cpuPerMiB(t.providerCpuMs, options.size)}, fetcher ${cpuPerMiB(t.fetcherCpuMs, options.size)}`
  }, base, PIN_TARGET, 'raw TCP')
  const vsCipher = compare({ ...pin, name: 'pin vs cipher ceiling', target: undefined, pass: undefined, note: undefined }, ceiling)
  log('pin: the same pin between two stock Helia nodes (bitswap)')
  const stock = await stockHeliaPin(path.join(dir, 'helia'), file, ws.swarmKey, options.transferTimeout * 5)
  const stockRow = compare({
    script: 'pin',
    name: 'pin by stock Helia (bitswap, @libp2p/pnet, noise, yamux)',
    bytes: options.size,
    ms: stock.ms,
    peakRssBytes: stock.peakRssBytes,
    note: stock.error ?? `provider RSS ${(stock.providerRssBytes / MiB).toFixed(0)} MiB, fetcher ${(stock.fetcherRssBytes / MiB).toFixed(0)} MiB`
  }, base)
  const vsStock = compare({ ...pin, name: 'pin vs stock Helia', target: undefined, pass: undefined, note: undefined }, stockRow)
  const rows: Row[] = [base, xs, sodium, noble, seal, open, ceiling, stockRow, pin, vsCipher, vsStock]
  if (options.transfers > 0) rows.push(stallRow('pin', t.transfers, options.transferSize, options.transferTimeout))
  rows.push(...await multiRows(ctx, file, options.size / (t.ms / 1000)))
  return rows
}

/**
 * Two stock Helia processes (bench/workers/helia-net.ts): one adds `file` (Kubo's options), the
 * other dials it and pins the root, every block by bitswap. `ms` is the pin alone. A failure (a
 * timeout) is reported in `error`, with the time it took, instead of failing the whole bench.
 */
async function stockHeliaPin (dir: string, file: string, swarmKey: string, timeout: number): Promise<{ ms: number, peakRssBytes: number, providerRssBytes: number, fetcherRssBytes: number, error?: string }> {
  const provider = await startChild('helia-net')
  let fetcher: Awaited<ReturnType<typeof startChild>> | undefined
  try {
    const info = await provider.request<{ multiaddrs: string[] }>('start', { storagePath: path.join(dir, 'provider'), swarmKey }, 120_000)
    const added = await provider.request<{ cid: string }>('addFile', { path: file }, 600_000)
    fetcher = await startChild('helia-net')
    await fetcher.request('start', { storagePath: path.join(dir, 'fetcher'), swarmKey }, 120_000)
    const start = performance.now()
    let error: string | undefined
    try {
      await fetcher.request('pin', { cid: added.cid, provider: info.multiaddrs[0], timeout }, timeout + 10_000)
    } catch (err) {
      error = `failed: ${err instanceof Error ? err.message : String(err)}`
    }
    const ms = performance.now() - start
    const [f, p] = await Promise.all([fetcher.stop(), provider.stop()])
    return { ms, error, providerRssBytes: p.maxRssBytes, fetcherRssBytes: f.maxRssBytes, peakRssBytes: Math.max(p.maxRssBytes, f.maxRssBytes) }
  } finally {
    fetcher?.kill()
    provider.kill()
    await fs.rm(dir, { recursive: true, force: true })
  }
}

/** Three holders each limited to `multiLimit(size)` upload vs one of them under that limit. */
async function multiRows (ctx: BenchContext, file: string, unlimitedBytesPerSecond: number): Promise<Row[]> {
  const { options, dir, log } = ctx
  const limit = multiLimit(options.size, unlimitedBytesPerSecond)
  const r = await multiSourcePin({
    dir: path.join(dir, 'multi'),
    ws: benchWorkspace(),
    file,
    holders: MULTI_HOLDERS,
    upBytesPerSecond: limit,
    timeout: Math.max(options.transferTimeout, Math.ceil(options.size / limit) * 3000 + 30_000),
    log
  })
  const limitNote = `upload limit ${(limit / MiB).toFixed(1)} MiB/s per holder`
  const single: Row = { script: 'pin', name: `pin from 1 holder under the workspace upload limit (baseline)`, bytes: options.size, ms: r.singleMs, note: limitNote }
  const multi = compare({
    script: 'pin',
    name: `pin from ${MULTI_HOLDERS} holders, each under the same limit`,
    bytes: options.size,
    ms: r.multiMs,
    note: `${limitNote}; fetcher connected to ${r.peers} peers`
  }, single, MULTI_TARGET, '1 holder')
  return [single, multi]
}
