/**
 * Types of the orchestrator client.
 */
import type { AbortOptions } from '@libp2p/interface'
import type { StorageNode } from '../node/types.js'

/** Anything with pino's `info/warn/error/debug(obj, msg)` shape. */
export interface ClientLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface OrchestratorClientInit {
  /**
   * The orchestrator's WebSocket URL (`ws://...` or `wss://...`), or several
   * (a list, or one string with commas): instances of one orchestrator on a
   * shared PostgreSQL. The client connects to the first and moves to the next
   * one whenever a connection fails or drops.
   */
  url: string | readonly string[]
  /** This node's token (from the orchestrator's `createNode`). */
  token: string
  /** The storage node to drive. The client never stops it. */
  storageNode: StorageNode
  /** A name sent in `hello`. */
  nodeName?: string
  /** First reconnect delay (ms); doubles up to `reconnectMaxMs`, with jitter. @default 500 */
  reconnectInitialMs?: number
  /** @default 30000 */
  reconnectMaxMs?: number
  /** Interval of periodic `storage_report`s (ms); 0 turns them off (reports still follow every change). @default 60000 */
  storageReportIntervalMs?: number
  /** Pins run at once. @default 4 */
  pinConcurrency?: number
  /** Pin timeout when `pin_content` has none (ms). @default 600000 */
  pinTimeoutMs?: number
  /** Which of the workspace node's multiaddrs to announce. @default all of them */
  filterAddresses?: (addresses: string[]) => string[]
  /**
   * Allow plain `ws://` (or `http://`) to a host that is not this machine.
   * Swarm keys and the node token travel over this connection: without TLS
   * anyone on the network path reads them. Loopback hosts are always allowed.
   * @default false
   */
  allowInsecure?: boolean
  /** Least time between two "orchestrator unreachable" warnings (ms); failures in between are logged at debug level. @default 60000 */
  unreachableWarnIntervalMs?: number
  /** Extra `ws` client options for `wss://` (e.g. `ca` for a private CA). */
  tls?: { ca?: string | Buffer, rejectUnauthorized?: boolean }
  /** @default silent */
  logger?: ClientLogger
}

export type ClientEvent =
  | { type: 'connected', nodeId: string }
  | { type: 'disconnected', code: number }
  | { type: 'joined', workspaceId: string, keyVersion: number, keyFingerprint: string }
  | { type: 'left', workspaceId: string }
  | { type: 'pinned', workspaceId: string, cid: string, size: number }
  | { type: 'pin-failed', workspaceId: string, cid: string, error: { code: string, message: string } }
  | { type: 'unpinned', workspaceId: string, cid: string }
  /** The orchestrator refused this node for good (bad token, protocol version); the client stopped reconnecting. */
  | { type: 'fatal', error: { code: string, message: string } }
  | { type: 'error', error: { code: string, message: string } }

export interface OrchestratorClient {
  /** Starts connecting (and reconnecting) in the background. */
  start(): Promise<void>
  /** Closes the connection and cancels running pins. The storage node keeps running. */
  stop(): Promise<void>
  /** Whether the orchestrator has accepted this node on the current connection. */
  readonly connected: boolean
  /** This node's id, once welcomed. */
  readonly nodeId: string | undefined
  /** The URL of the current (or next) connection attempt, without credentials. */
  readonly currentUrl: string
  /** Resolves once connected and welcomed. @throws {AbortedError} on abort or stop */
  waitConnected(options?: AbortOptions): Promise<void>
  /** Subscribes to client events; returns the unsubscribe function. */
  onEvent(listener: (event: ClientEvent) => void): () => void
  /** Sends a `storage_report` now (if connected). */
  reportStorage(options?: AbortOptions): Promise<void>
}

