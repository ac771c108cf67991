/**
 * Simulated storage nodes: raw WebSocket clients that speak the node side of
 * the protocol (hello, storage_report, ipfs_ready, pin_sync, content_pinned)
 * without running IPFS.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import WebSocket from 'ws'
import { PROTOCOL_VERSION } from '../../src/protocol/index.js'
import type { Handlers } from './entry.js'

const sockets: WebSocket[] = []
const TiB = 2 ** 40

function simulate (url: string, token: string, peerId: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    sockets.push(ws)
    let joined = false
    const send = (msg: unknown): void => { ws.send(JSON.stringify(msg)) }
    ws.on('open', () => { send({ type: 'hello', protocol_version: PROTOCOL_VERSION, token, node_name: `sim-${port}` }) })
    ws.on('error', reject)
    ws.on('close', (code) => { if (!joined) reject(new Error(`closed before joining (${code})`)) })
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString())
      switch (msg.type) {
        case 'welcome':
          send({ type: 'storage_report', used: 0, quota: TiB, free: TiB, workspaces: [] })
          break
        case 'workspace_joined':
          send({ type: 'ipfs_ready', workspace_id: msg.workspace_id, peer_id: peerId, addresses: [`/ip4/127.0.0.1/tcp/${port}`] })
          send({ type: 'pin_sync', workspace_id: msg.workspace_id, cids: [] })
          if (!joined) { joined = true; resolve() }
          break
        case 'pin_content':
          send({ type: 'content_pinned', workspace_id: msg.workspace_id, cid: msg.cid, size: msg.size ?? 1024 })
          break
        case 'error':
          reject(new Error(`orchestrator error ${String(msg.code)}: ${String(msg.message)}`))
          break
      }
    })
  })
}

export const handlers: Handlers = {
  /** Make peer ids up front (not part of what is measured). */
  async prepare (args: { count: number }) {
    const ids: string[] = []
    for (let i = 0; i < args.count; i++) ids.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
    peerIds = ids
    return { count: ids.length }
  },
  /** Node i connects to `urls[i % urls.length]` (several orchestrator instances), or to `url`. */
  async connect (args: { url?: string, urls?: string[], nodes: Array<{ token: string }> }) {
    const urls = args.urls ?? [args.url ?? '']
    const start = performance.now()
    await Promise.all(args.nodes.map((n, i) => simulate(urls[i % urls.length], n.token, peerIds[i], 10_000 + i)))
    return { ms: performance.now() - start }
  },
  /** CPU time this process used so far (user + system), in ms. */
  async cpu () {
    const u = process.cpuUsage()
    return { ms: (u.user + u.system) / 1000 }
  },
  async stop () {
    for (const s of sockets) s.terminate()
    sockets.length = 0
  }
}

let peerIds: string[] = []
