/**
 * Live updates across instances: the changes an orchestrator emits
 * (`onChange`: pins, allocations, nodes online and offline, members, keys)
 * reach the listeners of every other instance on the same PostgreSQL, so
 * that a dashboard's event stream (and a gateway) on one instance sees what
 * happened on another, as its REST answers already do.
 *
 * - Local events are gathered for `batchMs` (25 ms) and broadcast on the bus topic
 *   {@link RELAY_TOPIC} as JSON arrays, each NOTIFY payload at most
 *   `maxBytes` (PostgreSQL refuses 8000 bytes or more): a larger batch is
 *   split, in order, and the parts are sent one after the other so that they
 *   arrive in the order the events happened.
 * - A relayed event is handed to the local listeners and never relayed again
 *   (it is marked, and an instance ignores its own broadcasts): no loops.
 * - An instance killed with -9 cannot say its nodes went offline: each
 *   surviving instance notices it from the bus (its nodes leave the online
 *   set) and tells its own listeners ({@link EventRelay.nodeVanished}), once:
 *   a `node:offline` relayed for a node already shown offline is dropped, and
 *   the other way round.
 *
 * SQLite (one instance) has no relay: its events reach its listeners only.
 */
import type { ClusterBus, BroadcastDetail } from '../pg/postgres-bus.js'
import type { OrchestratorEvent, OrchestratorLogger } from '../types.js'

/** The bus topic of relayed events. */
export const RELAY_TOPIC = 'events'
/**
 * Local events are gathered this long before they are sent (ms). Each batch is a NOTIFY round trip and a
 * notification every instance reads: at 10 ms the relay was a third of an instance's statements while pins were
 * placed (2026-12-04, docs/performance.md); a live view 25 ms late is still live.
 */
export const RELAY_BATCH_MS = 25
/** The largest NOTIFY payload the relay sends, in bytes (PostgreSQL's limit is 7999). */
export const RELAY_MAX_BYTES = 6000

export interface EventRelayInit {
  /** The bus the instances share. */
  bus: Pick<ClusterBus, 'instanceId' | 'broadcast' | 'addEventListener' | 'removeEventListener'>
  /** Subscribes to this instance's events (`orchestrator core.onChange`); returns the unsubscribe. */
  subscribe: (listener: (event: OrchestratorEvent) => void) => () => void
  /** Hands an event from another instance to this instance's listeners (synchronously). */
  deliver: (event: OrchestratorEvent) => void
  /** @default {@link RELAY_BATCH_MS} */
  batchMs?: number
  /** At most 7999. @default {@link RELAY_MAX_BYTES} */
  maxBytes?: number
  /** @default silent */
  logger?: OrchestratorLogger
}

export interface EventRelay {
  /** A node held by an instance that died is gone from the bus: tells the local listeners it is offline (once). */
  nodeVanished(nodeId: string): void
  /** Sends what is gathered now; resolves once every batch sent so far is out. */
  flush(): Promise<void>
  /** Flushes, then stops relaying in both directions. */
  stop(): Promise<void>
}

const silent: OrchestratorLogger = { debug () {}, info () {}, warn () {}, error () {} }

/** Every event a relay handed to local listeners (from another instance, or a vanished node from the bus view). */
const relayed = new WeakSet<OrchestratorEvent>()

/** Whether an `onChange` event came from another instance (or from the bus view), not from this instance's own work. */
export function isRelayedEvent (event: OrchestratorEvent): boolean {
  return relayed.has(event)
}

/**
 * @example
 * ```ts
 * const relay = createEventRelay({ bus, subscribe: l => core.onChange(l), deliver: e => core.context.emitNow(e) })
 * // ... on stop, before the bus stops
 * await relay.stop()
 * ```
 */
export function createEventRelay (init: EventRelayInit): EventRelay {
  const log = init.logger ?? silent
  const { bus } = init
  const batchMs = init.batchMs ?? RELAY_BATCH_MS
  const maxBytes = Math.min(init.maxBytes ?? RELAY_MAX_BYTES, 7999)
  // the bus sends `data` as a JSON string inside its own JSON envelope: measured the way it is built
  const envelope = Buffer.byteLength(JSON.stringify({ k: 'b', topic: RELAY_TOPIC, from: bus.instanceId, data: '' }))
  /** Events that came from another instance (or from the bus view): never relayed ({@link relayed}). */
  const foreign = relayed
  /** Nodes of other instances the local listeners were last told are offline. */
  const shownOffline = new Set<string>()
  let pending: Array<{ json: string, bytes: number }> = []
  let timer: ReturnType<typeof setTimeout> | undefined
  let sending: Promise<void> = Promise.resolve()
  let stopped = false

  const deliver = (event: OrchestratorEvent): void => {
    foreign.add(event)
    try {
      init.deliver(event)
    } catch (err) {
      log.warn({ type: event.type, err: (err as Error).message }, 'a relayed event\'s listener threw')
    }
  }

  /** Cuts the gathered events into arrays whose payload stays within `maxBytes`, in order. */
  const cut = (events: Array<{ json: string, bytes: number }>): string[] => {
    const parts: string[] = []
    let part: string[] = []
    let size = envelope + 2 // the brackets
    for (const e of events) {
      const cost = e.bytes + (part.length > 0 ? 1 : 0)
      if (part.length > 0 && size + cost > maxBytes) {
        parts.push(`[${part.join(',')}]`)
        part = []
        size = envelope + 2
      }
      part.push(e.json)
      size += e.bytes + (part.length > 1 ? 1 : 0)
    }
    if (part.length > 0) parts.push(`[${part.join(',')}]`)
    return parts
  }

  const send = (): void => {
    clearTimeout(timer)
    timer = undefined
    if (pending.length === 0) return
    const parts = cut(pending)
    pending = []
    // one after the other: two statements in flight on a pool may notify in either order
    sending = sending.then(async () => {
      for (const data of parts) {
        try {
          await bus.broadcast(RELAY_TOPIC, data)
        } catch (err) {
          // the other instances' REST answers stay right; their live view misses these changes until the next one
          log.warn({ bytes: data.length, err: (err as Error).message }, 'relaying events to the other instances failed')
        }
      }
    })
  }

  const onLocal = (event: OrchestratorEvent): void => {
    if (stopped || foreign.has(event)) return
    if (event.type === 'node:online') shownOffline.delete(event.nodeId)
    const json = JSON.stringify(event)
    // escaped as the bus will send it (a JSON string), without its quotes
    const bytes = Buffer.byteLength(JSON.stringify(json)) - 2
    if (envelope + 2 + bytes > maxBytes) {
      log.warn({ type: event.type, bytes }, 'an event too large to relay was not sent to the other instances')
      return
    }
    pending.push({ json, bytes })
    timer ??= setTimeout(send, batchMs)
  }

  const onBroadcast = (evt: Event): void => {
    const { topic, data, from } = (evt as CustomEvent<BroadcastDetail>).detail
    if (topic !== RELAY_TOPIC || from === bus.instanceId || data == null || stopped) return
    let events: unknown
    try {
      events = JSON.parse(data)
    } catch (err) {
      log.warn({ from, err: (err as Error).message }, 'unreadable relayed events')
      return
    }
    if (!Array.isArray(events)) return
    for (const event of events as OrchestratorEvent[]) {
      if (event == null || typeof event !== 'object' || typeof event.type !== 'string') continue
      if (event.type === 'node:offline') {
        if (shownOffline.has(event.nodeId)) continue
        shownOffline.add(event.nodeId)
      } else if (event.type === 'node:online') {
        shownOffline.delete(event.nodeId)
      }
      deliver(event)
    }
  }

  const unsubscribe = init.subscribe(onLocal)
  bus.addEventListener('broadcast', onBroadcast)

  return {
    nodeVanished (nodeId) {
      if (stopped || shownOffline.has(nodeId)) return
      shownOffline.add(nodeId)
      deliver({ type: 'node:offline', nodeId })
    },
    async flush () {
      send()
      await sending
    },
    async stop () {
      if (stopped) return
      send()
      stopped = true
      unsubscribe()
      bus.removeEventListener('broadcast', onBroadcast)
      await sending
    }
  }
}
