/**
 * The WebSocket transport of the session hub: upgrades on `wsPath` of the
 * admin server, one {@link NodeConnection} per socket, ping/pong heartbeat,
 * and the batching of frames: what arrives in one event-loop turn goes to
 * `hub.receive()` as one batch (transactions of at most 256 frames), and past
 * 1,024 frames not yet handled no socket is read until the hub catches up.
 */
import { WebSocketServer } from 'ws'
import type { RawData, WebSocket } from 'ws'
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { MAX_FRAME_BYTES } from '../protocol/index.js'
import type { Frame, HubSession, SessionHub } from './session-hub.js'
import type { OrchestratorLogger } from './types.js'

/** Frames received and not yet handled past which the sockets are not read (back-pressure), and where reading resumes. */
const HIGH_FRAMES = 1024
const LOW_FRAMES = 256

export interface WsTransportInit {
  server: Server
  hub: SessionHub
  log: OrchestratorLogger
  /** @default '/ws' */
  path?: string
  /** @default 30000 */
  heartbeatMs?: number
  /** Called on every heartbeat (the orchestrator records that it is alive). */
  onBeat?: () => void
}

export interface WsTransport {
  /** Closes every socket ("going away"), waiting up to 1 s each, then the server. */
  close(): Promise<void>
}

export function attachWsTransport (init: WsTransportInit): WsTransport {
  const { hub, log } = init
  const path = init.path ?? '/ws'
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES })
  const sockets = new Map<HubSession, { ws: WebSocket, alive: boolean }>()
  let pending: Frame[] = []
  let flushing = false
  let closed = false

  // back-pressure: past HIGH_FRAMES received and not yet handled, no socket is read until the hub is down to LOW_FRAMES
  // (a connect storm of thousands of nodes waits in the kernel's socket buffers, not as frames and closures here)
  let inFlight = 0
  let paused = false
  const setPaused = (pause: boolean): void => {
    paused = pause
    for (const entry of sockets.values()) {
      const { ws } = entry
      if (!pause) entry.alive = true
      try {
        if (pause) ws.pause()
        else ws.resume()
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'pausing a socket failed')
      }
    }
  }
  const flush = (): void => {
    flushing = false
    const frames = pending
    pending = []
    inFlight += frames.length
    if (!paused && inFlight > HIGH_FRAMES) setPaused(true)
    // failures are logged by the hub; batches run in order
    void hub.receive(frames).finally(() => {
      inFlight -= frames.length
      if (paused && inFlight <= LOW_FRAMES) setPaused(false)
    })
  }

  const onConnection = (ws: WebSocket): void => {
    const session = hub.accept({
      send: (data, cb) => { ws.send(data, cb) },
      close: (code, reason) => { ws.close(code, reason) },
      isOpen: () => ws.readyState === ws.OPEN
    })
    const entry = { ws, alive: true }
    sockets.set(session, entry)
    if (paused) ws.pause()
    ws.on('pong', () => { entry.alive = true })
    // ws has already closed the socket (e.g. 1009 for an oversized frame)
    ws.on('error', (err) => { log.warn({ nodeId: session.nodeId, err: err.message }, 'websocket error') })
    ws.on('close', () => {
      sockets.delete(session)
      // frames that arrived before the close are handled first
      if (pending.length > 0) flush()
      void hub.closed(session)
    })
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      pending.push({ session, data: raw as Buffer, isBinary })
      if (!flushing) {
        flushing = true
        setImmediate(flush)
      }
    })
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = (req.url ?? '').split('?')[0]
    if (url !== path || closed) {
      socket.write('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
      socket.destroy()
      return
    }
    socket.on('error', (err) => { log.debug({ err: err.message }, 'websocket upgrade socket error') })
    wss.handleUpgrade(req, socket, head, onConnection)
  }
  init.server.on('upgrade', onUpgrade)

  const heartbeat = setInterval(() => {
    init.onBeat?.()
    // a paused socket's pong is not read: no one is judged on it (they all count as alive again on resume)
    if (paused) return
    for (const entry of sockets.values()) {
      if (!entry.alive) { entry.ws.terminate(); continue }
      entry.alive = false
      try {
        entry.ws.ping()
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'ping failed')
      }
    }
  }, init.heartbeatMs ?? 30_000)
  heartbeat.unref()

  return {
    async close () {
      closed = true
      clearInterval(heartbeat)
      init.server.off('upgrade', onUpgrade)
      const all = [...sockets.values()]
      hub.closeAll()
      await Promise.all(all.map(async ({ ws }) => await new Promise<void>(resolve => {
        if (ws.readyState === ws.CLOSED) { resolve(); return }
        const t = setTimeout(() => { ws.terminate(); resolve() }, 1000)
        ws.once('close', () => { clearTimeout(t); resolve() })
      })))
      if (pending.length > 0) flush()
      wss.close()
    }
  }
}
