/**
 * What the orchestrator client does for `pin_content` and `unpin_content`:
 * pins run a few at a time (the same pin asked twice runs once), dialing the
 * providers first; every outcome is sent back and emitted.
 */
import type { NodeMessage, PinContentMessage, UnpinContentMessage } from '../protocol/index.js'
import type { WorkspaceNode } from '../node/types.js'
import type { ClientEvent, ClientLogger } from './types.js'

/** What the pin handler needs from the client. */
export interface PinContext {
  workspace(workspaceId: string): WorkspaceNode | undefined
  /** The client's current stop signal. */
  signal(): AbortSignal
  send(message: NodeMessage): void
  emit(event: ClientEvent): void
  /** Storage changed: a report is due. */
  changed(): void
  log: ClientLogger
  /** Timeout of a pin whose message has none. */
  pinTimeoutMs: number
}

export interface PinHandler {
  pin(msg: PinContentMessage): Promise<void>
  unpin(msg: UnpinContentMessage): Promise<void>
}

/** Dials every peer not connected yet, one address at a time until one works. */
export async function dialAll (wn: WorkspaceNode, addresses: string[], signal: AbortSignal, log: ClientLogger): Promise<void> {
  const connected = new Set(wn.peers().map(p => p.peerId))
  const byPeer = new Map<string, string[]>()
  for (const a of addresses) {
    const peer = a.split('/p2p/')[1]?.split('/')[0]
    if (peer == null || peer === wn.peerId || connected.has(peer)) continue
    const list = byPeer.get(peer)
    if (list == null) byPeer.set(peer, [a])
    else list.push(a)
  }
  await Promise.all([...byPeer.values()].map(async (addrs) => {
    for (const a of addrs) {
      try {
        await wn.connect(a, { signal })
        return
      } catch (err) {
        log.debug({ workspaceId: wn.workspaceId, address: a, err: (err as Error).message }, 'dial failed')
      }
    }
  }))
}

export function createPinHandler (ctx: PinContext, concurrency: number): PinHandler {
  const inFlight = new Map<string, Promise<void>>()
  let slots = concurrency
  const waiters: Array<() => void> = []
  const acquire = async (): Promise<void> => {
    if (slots > 0) { slots--; return }
    await new Promise<void>(resolve => waiters.push(resolve))
  }
  const release = (): void => {
    const next = waiters.shift()
    if (next != null) next()
    else slots++
  }

  return {
    async pin (msg) {
      const key = `${msg.workspace_id}\0${msg.cid}`
      const running = inFlight.get(key)
      if (running != null) { await running; return }
      const task = (async () => {
        await acquire()
        const signal = ctx.signal()
        try {
          const wn = ctx.workspace(msg.workspace_id)
          if (wn == null) throw Object.assign(new Error('Workspace not joined'), { code: 'ERR_WORKSPACE_NOT_JOINED' })
          if (msg.providers != null) await dialAll(wn, msg.providers, signal, ctx.log)
          const info = await wn.pin(msg.cid, {
            timeout: msg.timeout_ms ?? ctx.pinTimeoutMs,
            signal,
            ...(msg.name != null ? { name: msg.name } : {})
          })
          ctx.send({ type: 'content_pinned', workspace_id: msg.workspace_id, cid: msg.cid, size: Math.max(0, Math.floor(info.size)) })
          ctx.emit({ type: 'pinned', workspaceId: msg.workspace_id, cid: msg.cid, size: info.size })
        } catch (err) {
          if (signal.aborted) {
            // stopping: the orchestrator re-sends after reconnect
            ctx.log.debug({ workspaceId: msg.workspace_id, cid: msg.cid, err: (err as Error).message }, 'pin stopped')
            return
          }
          const e = err as Error & { code?: string }
          const error = { code: e.code ?? 'ERR_PIN_FAILED', message: e.message.slice(0, 1000) }
          ctx.log.warn({ workspaceId: msg.workspace_id, cid: msg.cid, code: error.code }, 'pin failed')
          ctx.send({ type: 'pin_failed', workspace_id: msg.workspace_id, cid: msg.cid, error })
          ctx.emit({ type: 'pin-failed', workspaceId: msg.workspace_id, cid: msg.cid, error })
        } finally {
          release()
          ctx.changed()
        }
      })()
      inFlight.set(key, task)
      try { await task } finally { inFlight.delete(key) }
    },

    async unpin (msg) {
      const wn = ctx.workspace(msg.workspace_id)
      const signal = ctx.signal()
      try {
        if (wn != null && await wn.isPinned(msg.cid, { signal })) {
          await wn.unpin(msg.cid, { signal })
        }
      } catch (err) {
        const e = err as Error & { code?: string }
        if (e.code !== 'ERR_NOT_PINNED') {
          ctx.log.warn({ workspaceId: msg.workspace_id, cid: msg.cid, err: e.message }, 'unpin failed')
          return
        }
      }
      ctx.send({ type: 'content_unpinned', workspace_id: msg.workspace_id, cid: msg.cid })
      ctx.emit({ type: 'unpinned', workspaceId: msg.workspace_id, cid: msg.cid })
      ctx.changed()
    }
  }
}
