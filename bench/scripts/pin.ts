/**
 * pin from a workspace peer in another process over the private swarm on
 * loopback vs a raw TCP pipe of the same bytes between two processes, and vs
 * the ciphers alone (pnet XSalsa20 + noise ChaCha20-Poly1305) on one core.
 * Then N consecutive transfers of distinct content, each with a timeout:
 * target no stall. Target: pin >= 0.5x raw TCP.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { measureCiphers, rawTcpPipe } from '../lib/baselines.js'
import { median, type BenchContext } from '../lib/context.js'
import { writeInputFile } from '../lib/files.js'
import { addInChild, benchWorkspace, transferInChildren } from '../lib/node-ops.js'
import { compare, MiB, type Row } from '../lib/report.js'

export const PIN_TARGET = 0.5

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

export async function pinBench (ctx: BenchContext): Promise<Row[]> {
  const { options, dir, log } = ctx
  const file = await writeInputFile(ctx, 'pin')
  const ws = benchWorkspace()

  log('pin: raw TCP pipe between two processes')
  const tcpOut = path.join(dir, 'tcp-out.bin')
  const tcp = await rawTcpPipe(file, tcpOut)
  if (tcp.bytes !== options.size) throw new Error(`raw TCP moved ${tcp.bytes} bytes, expected ${options.size}`)
  await fs.rm(tcpOut, { force: true })
  const base: Row = { script: 'pin', name: 'raw TCP pipe, 2 processes (baseline)', bytes: options.size, ms: tcp.ms, peakRssBytes: Math.max(tcp.senderRssBytes, tcp.receiverRssBytes) }

  log('pin: ciphers alone on one core')
  const c = measureCiphers(options.cipherBytes)
  const xs: Row = { script: 'pin', name: 'cipher: @libp2p/pnet XSalsa20 (WASM)', bytes: c.bytes, ms: c.xsalsa20Ms }
  const noble: Row = { script: 'pin', name: 'cipher: our pnet XSalsa20 (@noble/ciphers)', bytes: c.bytes, ms: c.nobleXsalsa20Ms }
  const seal: Row = { script: 'pin', name: 'cipher: noise ChaCha20-Poly1305 seal', bytes: c.bytes, ms: c.chachaSealMs }
  const open: Row = { script: 'pin', name: 'cipher: noise ChaCha20-Poly1305 open', bytes: c.bytes, ms: c.chachaOpenMs }
  // each side does one XSalsa20 pass (the node's own, @noble) and one seal (sender) or open
  // (receiver): the slower side bounds a transfer
  const ceiling: Row = {
    script: 'pin',
    name: 'cipher ceiling per side (our XSalsa20 + ChaCha20-Poly1305)',
    bytes: c.bytes,
    ms: c.nobleXsalsa20Ms + Math.max(c.chachaSealMs, c.chachaOpenMs)
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
    note: `provider RSS ${(t.providerRssBytes / MiB).toFixed(0)} MiB, fetcher ${(t.fetcherRssBytes / MiB).toFixed(0)} MiB`
  }, base, PIN_TARGET, 'raw TCP')
  const vsCipher = compare({ ...pin, name: 'pin vs cipher ceiling', target: undefined, pass: undefined, note: undefined }, ceiling)
  const rows: Row[] = [base, xs, noble, seal, open, ceiling, pin, vsCipher]
  if (options.transfers > 0) rows.push(stallRow('pin', t.transfers, options.transferSize, options.transferTimeout))
  return rows
}
