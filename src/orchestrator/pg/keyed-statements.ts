/**
 * The statements of a `content_pinned` batch, which look rows up by key
 * (`pg/postgres-operations.ts` runs them), and why they are written this
 * way: each is a named prepared statement, and PostgreSQL switches to its
 * generic plan after five executions. That plan is made while the tables may
 * be nearly empty and not analysed yet, and kept: as plain joins it hashed
 * the keys over a sequential scan of `pins` and `pin_allocations` (670
 * buffers and ~7 ms per call at 20,000 allocations in the bench, 0.3 ms with
 * the lookups). A lookup per key through `LATERAL` is a nested loop of index
 * lookups in any plan.
 */

/**
 * Membership (the row held FOR SHARE until the commit: a removeMember waits, as for isMember), the pin and the
 * node's allocation state of each (workspace, cid, node) of $1-$3, in the order given (`i`, from 1).
 */
export const READ_CONFIRMATIONS = `SELECT f.i::int AS i,
    EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = f.ws AND m.node_id = f.node FOR SHARE) AS member,
    p.cid AS pin_cid, p.name, p.size, p.replication_min, p.replication_max, p.created_at, a.state
  FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS f(ws, cid, node, i)
  LEFT JOIN LATERAL (SELECT * FROM pins WHERE workspace_id = f.ws AND cid = f.cid LIMIT 1) p ON true
  LEFT JOIN LATERAL (SELECT state FROM pin_allocations WHERE workspace_id = f.ws AND cid = f.cid AND node_id = f.node LIMIT 1) a ON true
  ORDER BY f.i`

/**
 * Marks `pinned` (at $4) the allocations of the (workspace, cid, node) keys of $1-$3 that exist, are not
 * 'unpinning', and whose pin exists with a size; returns the `i` (from 1) of each written.
 *
 * Each row is found by its pin's key (`LATERAL … OFFSET 0`, the node compared outside the fence so that the primary
 * key is the only index that fits: the generic plan on empty tables took the node's index otherwise), then updated
 * by its ctid (a TID scan: no join for the planner to hash; a plain `UPDATE … FROM unnest` hashed over a sequential
 * scan of `pin_allocations`). A row another transaction changes meanwhile (READ COMMITTED: the UPDATE waits for it)
 * is skipped, its newest version having another ctid (PostgreSQL 14+ rechecks it; `a.state` is checked on that
 * version too): an 'unpinning' written meanwhile stays, and a row deleted meanwhile (a membership removal deletes
 * the node's rows) is not written back, so no membership lock is needed. The skipped ones go the caller's usual way.
 */
export const CONFIRM_ALLOCATIONS = `UPDATE pin_allocations a SET state = 'pinned', error = NULL, updated_at = $4
  FROM (SELECT k.i, t.tid FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(ws, cid, node, i)
    CROSS JOIN LATERAL (SELECT ctid AS tid, node_id, state FROM pin_allocations WHERE workspace_id = k.ws AND cid = k.cid OFFSET 0) t
    WHERE t.node_id = k.node AND t.state <> 'unpinning'
      AND EXISTS (SELECT 1 FROM pins p WHERE p.workspace_id = k.ws AND p.cid = k.cid AND p.size IS NOT NULL OFFSET 0)) f
  WHERE a.ctid = f.tid AND a.state <> 'unpinning'
  RETURNING f.i::int AS i`
