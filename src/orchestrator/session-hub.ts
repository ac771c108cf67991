/**
 * Node sessions: authentication (`hello` with a node token), one session per
 * node (a newer connection replaces the older), routing of each message to
 * its handler, and what happens when a node goes away.
 *
 * Batching is explicit: {@link SessionHub.receive} takes a batch of frames
 * (the WebSocket adapter hands in what arrived in one event-loop turn) and
 * runs them in ONE transaction, each frame in its own savepoint so that one
 * failing frame rolls back alone. The batch commits before any answer is sent.
 * Batches and closes run one after the other, in the order they came in
 * (the store is asynchronous: a batch that arrives while one runs waits, and
 * the frames that arrive meanwhile join the next batch, up to
 * {@link MAX_BATCH_FRAMES} frames a transaction).
 */
import { InvalidMessageError, UnauthorizedError } from '../errors.js'
import { PROTOCOL_VERSION, parseNodeMessage } from '../protocol/index.js'
import type { NodeMessage } from '../protocol/index.js'
import type { OrchestratorParts } from './commands/parts.js'
import { forbidden, onContentPinned, onContentPinnedMany, onContentUnpinned, onIpfsReady, onPinFailed, onPinSync, onStorageReport } from './handlers.js'
import type { Confirmation } from './handlers.js'
import { hasBulk } from './store/types.js'
import type { BulkStoreOperations } from './store/types.js'
import { normaliseCid } from '../util/cid.js'
import type { TimerHandle } from './clock.js'
import type { Scope, TxScope } from './context.js'
import type { NodeConnection, NodeSession } from './state.js'
import { hashToken, tokenMatches } from '../util/tokens.js'

/** WebSocket close codes the orchestrator uses. */
export const CLOSE_CODES = {
  goingAway: 1001,
  invalidMessage: 4000,
  unauthorized: 4001,
  protocolVersion: 4002,
  replaced: 4003,
  authTimeout: 4008
} as const

/** Frames handled in one transaction at most (the rest wait for the next one). */
export const MAX_BATCH_FRAMES = 256

/** Error `code` sent when `hello.protocol_version` is not supported. */
export const ERR_PROTOCOL_VERSION = 'ERR_PROTOCOL_VERSION'

/** One received frame: the raw text (or bytes) and whether it came as a binary frame. */
export interface Frame {
  session: HubSession
  data: string | Buffer
  isBinary?: boolean
}

/** A session as the hub keeps it (the auth timer is its own business). */
export interface HubSession extends NodeSession {
  authTimer?: TimerHandle
}

type Parsed = { msg: NodeMessage } | { err: InvalidMessageError }

function parseFrame ({ data, isBinary }: Frame): Parsed {
  try {
    if (isBinary === true) throw new InvalidMessageError('Binary frames are not accepted')
    return { msg: parseNodeMessage(data) }
  } catch (err) {
    return { err: err as InvalidMessageError }
  }
}

export class SessionHub {
  readonly #parts: OrchestratorParts
  /** Every open connection, authenticated or not. */
  readonly sockets = new Set<HubSession>()
  #pending: Frame[] = []
  #tail: Promise<void> = Promise.resolve()

  constructor (parts: OrchestratorParts) {
    this.#parts = parts
  }

  /** A new connection: it has `authTimeoutMs` to send a valid `hello`. */
  accept (connection: NodeConnection): HubSession {
    const { ctx } = this.#parts
    const session: HubSession = { connection, nodeId: null, ready: new Set() }
    this.sockets.add(session)
    session.authTimer = ctx.later(ctx.settings.authTimeoutMs, () => {
      if (session.nodeId == null) this.#refuse(ctx.direct, session, 'ERR_TIMEOUT', 'No hello received in time', CLOSE_CODES.authTimeout)
    })
    return session
  }

  /** Handles a batch of frames in one transaction (see the file header); resolves once it is done. */
  async receive (frames: Frame[]): Promise<void> {
    if (frames.length === 0) return
    for (const f of frames) {
      // a first frame in time settles the session (a hello accepted, anything else refused) even when
      // the batches ahead of it take longer than authTimeoutMs (thousands of nodes connecting at once)
      if (f.session.nodeId == null && f.session.authTimer != null) {
        this.#parts.ctx.cancel(f.session.authTimer)
        f.session.authTimer = undefined
      }
      this.#pending.push(f)
    }
    // at most MAX_BATCH_FRAMES a transaction: a connect storm of thousands of nodes is many bounded transactions,
    // not one holding a savepoint, its scope and its queued answers for every frame until it commits. As many
    // tasks as batches of these frames: once the last one ran, every frame of this call was handled
    const tasks: Array<Promise<void>> = []
    for (let i = 0; i < frames.length; i += MAX_BATCH_FRAMES) {
      tasks.push(this.#enqueue(async () => {
        const batch = this.#pending.length <= MAX_BATCH_FRAMES ? this.#pending : this.#pending.slice(0, MAX_BATCH_FRAMES)
        this.#pending = batch === this.#pending ? [] : this.#pending.slice(MAX_BATCH_FRAMES)
        await this.#runBatch(batch)
      }))
    }
    await Promise.all(tasks)
  }

  /** Runs `task` after every batch and close before it; a failure is logged (by `ctx.track`), not thrown. */
  async #enqueue (task: () => Promise<void>): Promise<void> {
    const run = this.#parts.ctx.track('session hub', this.#tail.then(task))
    this.#tail = run
    await run
  }

  async #runBatch (frames: Frame[]): Promise<void> {
    const { ctx } = this.#parts
    if (ctx.closed || frames.length === 0) return
    frames = await this.#confirmOnly(frames)
    if (frames.length === 0) return
    try {
      await ctx.tx(async t => {
        const bulk = hasBulk(t.db) ? t.db : undefined
        // consecutive confirmations go together (group commit); every other frame in its own savepoint
        let run: Array<{ frame: Frame, confirmation: Confirmation }> = []
        const flush = async (): Promise<void> => {
          if (run.length > 0 && bulk != null) await this.#confirmAll(t, bulk, run)
          run = []
        }
        for (const frame of frames) {
          const parsed = parseFrame(frame)
          const confirmation = bulk != null && 'msg' in parsed ? this.#asConfirmation(frame, parsed.msg) : undefined
          if (confirmation != null) {
            run.push({ frame, confirmation })
            continue
          }
          await flush()
          await this.#inSavepoint(t, frame, parsed)
        }
        await flush()
      })
    } catch (err) {
      ctx.log.error({ frames: frames.length, err: (err as Error).message }, 'message batch failed')
    }
  }

  async #inSavepoint (t: TxScope, frame: Frame, parsed: Parsed): Promise<void> {
    try {
      await t.tx(async f => { await this.#onFrame(f, frame, parsed) })
    } catch (err) {
      this.#parts.ctx.log.error({ nodeId: frame.session.nodeId, err: (err as Error).message }, 'message handler failed')
      t.send(frame.session, { type: 'error', code: 'ERR_INTERNAL', message: 'Internal error' })
    }
  }

  /**
   * A batch of nothing but distinct confirmations (the pin phase's usual batch), on PostgreSQL: first ONE statement,
   * outside any transaction, marks pinned the copies that were asked for (`confirmAllocations`: one round trip where a
   * transaction was four); the rest (a copy nobody asked for, an unpinned pin, a size to record, a node no longer a
   * member) in one transaction of one read and one write, no savepoint. Returns the frames still to handle the usual
   * way, each in its own savepoint: the whole batch when it is not one of these, or the rest when their transaction
   * failed (rolled back).
   */
  async #confirmOnly (frames: Frame[]): Promise<Frame[]> {
    const { ctx } = this.#parts
    const store = ctx.store
    if (!hasBulk(store)) return frames
    let list: Confirmation[] = []
    const keys = new Set<string>()
    for (const frame of frames) {
      const parsed = parseFrame(frame)
      const c = 'msg' in parsed ? this.#asConfirmation(frame, parsed.msg) : undefined
      if (c == null) return frames
      keys.add(`${c.msg.workspace_id}\0${c.cid}\0${c.nodeId}`)
      list.push(c)
    }
    if (keys.size !== list.length) return frames
    let rest = frames
    try {
      const written = await store.confirmAllocations(list.map(c => ({ workspace_id: c.msg.workspace_id, cid: c.cid, node_id: c.nodeId })), ctx.clock.now())
      // committed: the events of what it wrote go out now
      for (let i = 0; i < list.length; i++) {
        if (written[i]) ctx.emitNow({ type: 'allocation', workspaceId: list[i].msg.workspace_id, cid: list[i].cid, nodeId: list[i].nodeId, state: 'pinned' })
      }
      rest = frames.filter((_, i) => !written[i])
      list = list.filter((_, i) => !written[i])
    } catch (err) {
      // one statement: nothing was written
      if (ctx.closed) return []
      ctx.log.warn({ frames: frames.length, err: (err as Error).message }, 'confirmations in one statement failed: in a transaction')
    }
    if (list.length === 0) return []
    try {
      await ctx.tx(async t => {
        if (!hasBulk(t.db)) throw new Error('the store has no multi-row statements')
        await onContentPinnedMany(this.#parts, t, t.db, list)
      })
      return []
    } catch (err) {
      if (ctx.closed) return []
      ctx.log.warn({ frames: rest.length, err: (err as Error).message }, 'grouped confirmations failed: one savepoint each')
      return rest
    }
  }

  /** A `content_pinned` of an authenticated member (as this instance knows): it can join a group. */
  #asConfirmation (frame: Frame, msg: NodeMessage): Confirmation | undefined {
    const nodeId = frame.session.nodeId
    if (nodeId == null || msg.type !== 'content_pinned' || !this.#parts.ctx.state.isMember(msg.workspace_id, nodeId)) return undefined
    let cid: string
    try {
      cid = normaliseCid(msg.cid)
    } catch {
      return undefined // its handler answers the error
    }
    return { session: frame.session, nodeId, cid, msg }
  }

  /** Confirmations in one read and one write (a savepoint); when that fails, or a key repeats, one by one. */
  async #confirmAll (t: TxScope, db: BulkStoreOperations, run: Array<{ frame: Frame, confirmation: Confirmation }>): Promise<void> {
    const keys = new Set(run.map(({ confirmation: c }) => `${c.msg.workspace_id}\0${c.cid}\0${c.nodeId}`))
    if (keys.size === run.length) {
      try {
        await t.tx(async f => { await onContentPinnedMany(this.#parts, f, hasBulk(f.db) ? f.db : db, run.map(r => r.confirmation)) })
        return
      } catch (err) {
        this.#parts.ctx.log.warn({ frames: run.length, err: (err as Error).message }, 'grouped confirmations failed: one by one')
      }
    }
    for (const { frame, confirmation } of run) await this.#inSavepoint(t, frame, { msg: confirmation.msg })
  }

  /** The connection closed: the node is offline; its pins move after the grace period. */
  async closed (session: HubSession): Promise<void> {
    const { ctx, replication } = this.#parts
    ctx.cancel(session.authTimer)
    this.sockets.delete(session)
    await this.#enqueue(async () => {
      const nodeId = session.nodeId
      if (nodeId == null || ctx.state.sessions.get(nodeId) !== session) return
      ctx.state.sessions.delete(nodeId)
      ctx.state.dropReady(nodeId, session)
      const now = ctx.clock.now()
      ctx.state.offlineSince.set(nodeId, now)
      ctx.log.info({ nodeId }, 'node disconnected')
      if (ctx.closed) return
      const workspaces = await ctx.tx(async t => {
        await t.db.touchNode(nodeId, now)
        t.emit({ type: 'node:offline', nodeId })
        return await t.db.listWorkspaceIdsOfNode(nodeId)
      })
      ctx.link.nodeReleased(nodeId)
      replication.afterGrace(nodeId, workspaces)
    })
  }

  async #onFrame (t: TxScope, { session }: Frame, parsed: Parsed): Promise<void> {
    const { ctx } = this.#parts
    if ('err' in parsed) {
      const e = parsed.err
      if (session.nodeId == null) this.#refuse(t, session, e.code ?? 'ERR_INVALID_MESSAGE', e.message, CLOSE_CODES.invalidMessage)
      else t.send(session, { type: 'error', code: e.code ?? 'ERR_INVALID_MESSAGE', message: e.message })
      return
    }
    const msg = parsed.msg
    if (session.nodeId == null) {
      if (msg.type !== 'hello') {
        this.#refuse(t, session, new UnauthorizedError().code, 'The first message must be hello', CLOSE_CODES.unauthorized)
        return
      }
      await this.#onHello(t, session, msg)
      return
    }
    const nodeId = session.nodeId
    switch (msg.type) {
      case 'hello':
        t.send(session, { type: 'error', code: 'ERR_INVALID_MESSAGE', message: 'Already authenticated', in_reply_to: 'hello' })
        return
      case 'error':
        ctx.log.warn({ nodeId, code: msg.code, message: msg.message }, 'node reported an error')
        return
      case 'storage_report':
        await onStorageReport(this.#parts, t, nodeId, msg)
        return
    }
    // the memory view first (cheap), then the row itself, held (PostgreSQL: FOR SHARE) until this
    // frame commits: a removeMember running meanwhile on another connection waits for it, instead
    // of the handler's writes failing on the membership's foreign keys
    // (PostgreSQL: checked in the handler's own first statement, e.g. upsertPeerIfMember, for every message but a
    // content_pinned handled alone; the grouped content_pinned checks it in its grouped read)
    const folded = msg.type !== 'content_pinned' && hasBulk(t.db)
    if (!ctx.state.isMember(msg.workspace_id, nodeId) || (!folded && !await t.db.isMember(msg.workspace_id, nodeId))) {
      forbidden(t, session, msg.type)
      return
    }
    switch (msg.type) {
      case 'ipfs_ready': await onIpfsReady(this.#parts, t, session, nodeId, msg); break
      case 'pin_sync': await onPinSync(this.#parts, t, session, nodeId, msg); break
      case 'content_pinned': await onContentPinned(this.#parts, t, session, nodeId, msg); break
      case 'pin_failed': await onPinFailed(this.#parts, t, session, nodeId, msg); break
      case 'content_unpinned': await onContentUnpinned(this.#parts, t, session, nodeId, msg); break
    }
  }

  async #onHello (t: TxScope, session: HubSession, msg: { protocol_version: number, token: string, node_name?: string }): Promise<void> {
    const { ctx, bootstrap } = this.#parts
    if (msg.protocol_version !== PROTOCOL_VERSION) {
      this.#refuse(t, session, ERR_PROTOCOL_VERSION, `Protocol version ${PROTOCOL_VERSION} required`, CLOSE_CODES.protocolVersion)
      return
    }
    const node = await t.db.getNodeByTokenHash(hashToken(msg.token))
    if (node == null || !tokenMatches(msg.token, node.token_hash)) {
      this.#refuse(t, session, new UnauthorizedError().code, 'Invalid token', CLOSE_CODES.unauthorized)
      return
    }
    ctx.cancel(session.authTimer)
    const previous = ctx.state.sessions.get(node.id)
    if (previous != null) {
      previous.nodeId = null // its close must not mark the node offline
      ctx.state.dropReady(node.id, previous)
      this.#close(previous, CLOSE_CODES.replaced, 'replaced by a newer connection')
    }
    session.nodeId = node.id
    ctx.state.sessions.set(node.id, session)
    ctx.state.offlineSince.delete(node.id)
    await t.db.touchNode(node.id, ctx.clock.now())
    t.send(session, { type: 'welcome', node_id: node.id, protocol_version: PROTOCOL_VERSION })
    ctx.log.info({ nodeId: node.id }, 'node connected')
    t.emit({ type: 'node:online', nodeId: node.id })
    t.afterCommit(() => { ctx.link.nodeHeld(node.id) })
    for (const wsId of await t.db.listWorkspaceIdsOfNode(node.id)) await bootstrap.sendJoined(t, session, wsId)
  }

  #refuse (t: Scope, session: HubSession, code: string, message: string, closeCode: number): void {
    t.send(session, { type: 'error', code, message })
    // after the error frame (both wait for the open transaction to commit)
    t.afterCommit(() => { this.#close(session, closeCode, message) })
  }

  #close (session: HubSession, code: number, reason: string): void {
    try {
      session.connection.close(code, reason.slice(0, 100))
    } catch (err) {
      this.#parts.ctx.log.debug({ nodeId: session.nodeId, err: (err as Error).message }, 'closing a connection failed')
    }
  }

  /** Closes every connection with "going away". */
  closeAll (): void {
    for (const s of this.sockets) {
      this.#parts.ctx.cancel(s.authTimer)
      this.#close(s, CLOSE_CODES.goingAway, 'orchestrator stopping')
    }
  }
}
