/**
 * The bus's outgoing queue for nodes held on other instances: the messages
 * sent while a write is in flight (or in the same tick) go in one statement,
 * many rows through `unnest` and one NOTIFY per receiving instance, instead of
 * a row and a NOTIFY per message. One write at a time, so the rows of a node
 * get ids in the order they were sent.
 */
import type pg from 'pg'

const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint'
/** Messages per statement at most. */
const BATCH = 1000

interface Pending { nodeId: string, payload: string, done: (to: string | undefined) => void, fail: (err: Error) => void }

export class BusOutbox {
  readonly #pool: pg.Pool
  readonly #channel: string
  #queue: Pending[] = []
  #writing = false

  constructor (pool: pg.Pool, channel: string) {
    this.#pool = pool
    this.#channel = channel
  }

  /** Queues a row for the instance holding `nodeId`; resolves with that instance, or `undefined` when no instance holds it. */
  async send (nodeId: string, payload: string): Promise<string | undefined> {
    return await new Promise<string | undefined>((resolve, reject) => {
      this.#queue.push({ nodeId, payload, done: resolve, fail: reject })
      if (!this.#writing) {
        this.#writing = true
        queueMicrotask(() => { void this.#write() })
      }
    })
  }

  async #write (): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, BATCH)
      try {
        // the rows and their notifications commit together, addressed to whoever holds each node now
        // named: parsed and planned once per connection, not for every batch
        const res = await this.#pool.query<{ node_id: string, to: string }>({
          name: 'busOutbox',
          text: `
          WITH input AS (SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(node_id, payload, ord)),
          queued AS (
            INSERT INTO cluster_messages (instance_id, node_id, payload, created_at)
            SELECT h.instance_id, i.node_id, i.payload, ${NOW_MS} FROM input i JOIN cluster_node_holders h ON h.node_id = i.node_id
            ORDER BY i.ord RETURNING id, instance_id, node_id
          ),
          notes AS (SELECT count(pg_notify($3, json_build_object('k', 'm', 'to', instance_id, 'id', max_id)::text)) AS n
            FROM (SELECT instance_id, max(id) AS max_id FROM queued GROUP BY instance_id) q)
          SELECT q.node_id, q.instance_id AS to, n.n FROM queued q CROSS JOIN notes n`,
          values: [batch.map(p => p.nodeId), batch.map(p => p.payload), this.#channel]
        })
        const holders = new Map(res.rows.map(r => [r.node_id, r.to]))
        for (const p of batch) p.done(holders.get(p.nodeId))
      } catch (err) {
        for (const p of batch) p.fail(err as Error)
      }
    }
    this.#writing = false
  }
}
