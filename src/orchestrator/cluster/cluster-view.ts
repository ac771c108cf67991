/**
 * Every instance's view of the cluster's nodes, kept by reading only what
 * changed: who holds which node's session (`cluster_node_holders`), which
 * instances are alive (their bus listener's session in `pg_stat_activity`),
 * who is ready where with which addresses (`cluster_ready`), and the free
 * space nodes reported (`nodes.storage_free`).
 *
 * How "what changed" is found: a trigger stamps every inserted or updated row
 * with the id of the transaction that wrote it (`cluster_changed`, an xid8).
 * Each read also returns the oldest transaction still running at its snapshot
 * (`pg_snapshot_xmin`); the next read asks for the rows stamped at or after it.
 * Every write a read did not see belongs to a transaction that was running or
 * had not started when it was taken, so its id is at least that watermark:
 * nothing is missed, and rows may come twice (harmless, they are states). A
 * deleted row has no stamp: a statement trigger NOTIFYs the node ids whose
 * rows went away (`{"k":"g"}` on the bus channel), and the next read reads
 * those nodes' rows again (absent now: forgotten). When the bus listener was
 * away (it reconnected), and every `fullEveryMs`, the next read is a full one.
 *
 * One statement per read (one row of JSON arrays); when nothing changed it
 * carries the few live instances and nothing else, instead of every node
 * row, every ready row and every holder each second on every instance.
 */
import type pg from 'pg'

/** Component `cluster-view` in `otherthing_schema` (after `cluster`, which creates the tables, and `store`). */
export const VIEW_MIGRATIONS: string[] = [
  `
  CREATE FUNCTION otherthing_cluster_touch() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    NEW.cluster_changed := pg_current_xact_id();
    RETURN NEW;
  END $$;
  CREATE FUNCTION otherthing_cluster_gone() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE ids json;
  BEGIN
    SELECT json_agg(DISTINCT node_id) INTO ids FROM gone;
    IF ids IS NULL THEN RETURN NULL; END IF;
    IF octet_length(ids::text) > 7000 THEN ids := '"*"'::json; END IF;
    PERFORM pg_notify('otherthing_bus', json_build_object('k', 'g', 'n', ids)::text);
    RETURN NULL;
  END $$;
  ALTER TABLE cluster_node_holders ADD COLUMN cluster_changed xid8 NOT NULL DEFAULT pg_current_xact_id();
  ALTER TABLE cluster_ready ADD COLUMN cluster_changed xid8 NOT NULL DEFAULT pg_current_xact_id();
  ALTER TABLE nodes ADD COLUMN cluster_changed xid8 NOT NULL DEFAULT pg_current_xact_id();
  CREATE INDEX cluster_node_holders_changed ON cluster_node_holders(cluster_changed);
  CREATE INDEX cluster_ready_changed ON cluster_ready(cluster_changed);
  CREATE INDEX cluster_ready_node ON cluster_ready(node_id);
  CREATE INDEX nodes_cluster_changed ON nodes(cluster_changed);
  CREATE TRIGGER cluster_node_holders_touch BEFORE UPDATE ON cluster_node_holders FOR EACH ROW EXECUTE FUNCTION otherthing_cluster_touch();
  CREATE TRIGGER cluster_ready_touch BEFORE UPDATE ON cluster_ready FOR EACH ROW EXECUTE FUNCTION otherthing_cluster_touch();
  CREATE TRIGGER nodes_cluster_touch BEFORE UPDATE OF storage_free, storage_reported_at ON nodes FOR EACH ROW EXECUTE FUNCTION otherthing_cluster_touch();
  CREATE TRIGGER cluster_node_holders_gone AFTER DELETE ON cluster_node_holders REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION otherthing_cluster_gone();
  CREATE TRIGGER cluster_ready_gone AFTER DELETE ON cluster_ready REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION otherthing_cluster_gone();
  `
]

interface ReadyRow { instance: string, json: string, list: string[] }
interface ViewRead {
  wm: string
  live: string[]
  holders: Array<[string, string]> | null
  ready: Array<[string, string, string, string]> | null
  storage: Array<[string, number, number | null]> | null
}

/**
 * Stamped at or after the watermark; the upper bound (every row this snapshot sees was written below its xmax) changes
 * nothing in the result and tells the planner it is a narrow range (an index scan, with or without statistics).
 */
const CHANGED = '(cluster_changed >= $1::xid8 AND cluster_changed < pg_snapshot_xmax(pg_current_snapshot()))'

const READ = (appPrefix: string): string => `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS wm,
  ARRAY(SELECT substr(application_name, ${appPrefix.length + 1}) FROM pg_stat_activity
    WHERE datname = current_database() AND application_name LIKE '${appPrefix}%') AS live,
  (SELECT json_agg(json_build_array(node_id, instance_id)) FROM cluster_node_holders
    WHERE ${CHANGED} OR node_id = ANY($2::text[])) AS holders,
  (SELECT json_agg(json_build_array(node_id, workspace_id, instance_id, addresses)) FROM cluster_ready
    WHERE ${CHANGED} OR node_id = ANY($2::text[])) AS ready,
  (SELECT json_agg(json_build_array(id, storage_free, storage_reported_at)) FROM nodes
    WHERE ${CHANGED} AND storage_free IS NOT NULL) AS storage`

export interface ClusterViewInit {
  pool: pg.Pool
  instanceId: string
  /** `application_name` prefix of the instances' bus listeners. */
  appPrefix: string
  /** @default 60000 */
  fullEveryMs?: number
}

export class ClusterView {
  /** Node id -> the instance holding its session (alive or not). */
  readonly holders = new Map<string, string>()
  /** Instances whose bus listener is connected. */
  readonly live = new Set<string>()
  /** Nodes held by a live instance (this one's included). */
  readonly online = new Set<string>()
  /** Other instances' ready nodes with their addresses, per workspace (rows written by the node's holder). */
  readonly ready = new Map<string, Map<string, string[]>>()
  /** Free space reports read since the last {@link takeStorage}: node id, free bytes, reported at. */
  #storage: Array<[string, number, number | null]> = []
  /** Ready rows per node, per workspace. */
  readonly #rows = new Map<string, Map<string, ReadyRow>>()
  /** The workspaces each node is in {@link ready} for. */
  readonly #exported = new Map<string, Set<string>>()
  readonly #init: ClusterViewInit
  readonly #sql: string
  #wm: string | undefined
  #fullAt = 0
  #dirty = new Set<string>()
  #reading: Promise<void> | undefined
  /** When the last read started (ms, local clock). */
  readAt = 0
  /** Rows (holders, ready, storage) the last read returned: none when nothing changed. */
  lastRows = 0

  constructor (init: ClusterViewInit) {
    this.#init = init
    this.#sql = READ(init.appPrefix)
  }

  /** The rows of these nodes went away (`'*'`: too many to list): the next read reads them again. */
  gone (nodeIds: string[] | '*'): void {
    if (nodeIds === '*') this.resync()
    else for (const id of nodeIds) this.#dirty.add(id)
  }

  /** The next read reads everything (the listener missed notifications). */
  resync (): void { this.#wm = undefined }

  takeStorage (): Array<[string, number, number | null]> {
    const out = this.#storage
    this.#storage = []
    return out
  }

  /** Reads what changed; calls while a read is in flight share it. */
  async read (): Promise<void> {
    this.#reading ??= this.#readOnce().finally(() => { this.#reading = undefined })
    return await this.#reading
  }

  async #readOnce (): Promise<void> {
    const started = Date.now()
    const full = this.#wm == null || started - this.#fullAt >= (this.#init.fullEveryMs ?? 60_000)
    const dirty = full ? [] : [...this.#dirty]
    this.#dirty.clear()
    let r: ViewRead
    try {
      r = (await this.#init.pool.query<ViewRead>({ name: 'clusterView', text: this.#sql, values: [full ? '0' : this.#wm, dirty] })).rows[0]
    } catch (err) {
      for (const id of dirty) this.#dirty.add(id)
      throw err
    }
    this.readAt = started
    if (full) this.#fullAt = started
    this.#wm = r.wm
    this.lastRows = (r.holders?.length ?? 0) + (r.ready?.length ?? 0) + (r.storage?.length ?? 0)
    const touched = new Set<string>(dirty)
    this.#applyHolders(r, full, dirty, touched)
    this.#applyReady(r, full, dirty, touched)
    if (r.storage != null) for (const s of r.storage) this.#storage.push(s)
  }

  #applyHolders (r: ViewRead, full: boolean, dirty: string[], touched: Set<string>): void {
    const seen = full || dirty.length > 0 ? new Set<string>() : undefined
    for (const [node, instance] of r.holders ?? []) {
      seen?.add(node)
      if (this.holders.get(node) === instance) continue
      this.holders.set(node, instance)
      touched.add(node)
    }
    const gone = full ? [...this.holders.keys()] : dirty
    for (const node of gone) {
      if (seen?.has(node) === true || !this.holders.has(node)) continue
      this.holders.delete(node)
      touched.add(node)
    }
    let liveChanged = r.live.length !== this.live.size
    for (const i of r.live) if (!this.live.has(i)) liveChanged = true
    if (liveChanged) {
      this.live.clear()
      for (const i of r.live) this.live.add(i)
      this.online.clear()
      for (const [node, instance] of this.holders) if (this.live.has(instance)) this.online.add(node)
      return
    }
    for (const node of touched) {
      const instance = this.holders.get(node)
      if (instance != null && this.live.has(instance)) this.online.add(node)
      else this.online.delete(node)
    }
  }

  #applyReady (r: ViewRead, full: boolean, dirty: string[], touched: Set<string>): void {
    const returned = new Map<string, Set<string>>()
    for (const [node, ws, instance, json] of r.ready ?? []) {
      let byWs = this.#rows.get(node)
      if (byWs == null) this.#rows.set(node, byWs = new Map())
      const known = byWs.get(ws)
      if (known?.instance !== instance || known.json !== json) {
        byWs.set(ws, { instance, json, list: known?.json === json ? known.list : JSON.parse(json) as string[] })
        touched.add(node)
      }
      if (full || dirty.length > 0) {
        let set = returned.get(node)
        if (set == null) returned.set(node, set = new Set())
        set.add(ws)
      }
    }
    // rows that went away: of every node on a full read, of the dirty nodes otherwise
    for (const node of full ? [...this.#rows.keys()] : dirty) {
      const byWs = this.#rows.get(node)
      if (byWs == null) continue
      const kept = returned.get(node)
      for (const ws of byWs.keys()) {
        if (kept?.has(ws) === true) continue
        byWs.delete(ws)
        touched.add(node)
      }
      if (byWs.size === 0) this.#rows.delete(node)
    }
    for (const node of touched) this.#export(node)
  }

  /** Puts a node's ready rows into {@link ready} when they count (written by its current holder, another instance), takes out the others. */
  #export (node: string): void {
    const rows = this.#rows.get(node)
    const holder = this.holders.get(node)
    const counts = (ws: string): ReadyRow | undefined => {
      const row = rows?.get(ws)
      return row != null && row.instance !== this.#init.instanceId && row.instance === holder ? row : undefined
    }
    const exported = this.#exported.get(node)
    for (const ws of exported ?? []) {
      if (counts(ws) != null) continue
      exported?.delete(ws)
      const m = this.ready.get(ws)
      if (m?.delete(node) === true && m.size === 0) this.ready.delete(ws)
    }
    for (const ws of rows?.keys() ?? []) {
      const row = counts(ws)
      if (row == null) continue
      let m = this.ready.get(ws)
      if (m == null) this.ready.set(ws, m = new Map())
      m.set(node, row.list)
      let mine = this.#exported.get(node)
      if (mine == null) this.#exported.set(node, mine = new Set())
      mine.add(ws)
    }
    if (this.#exported.get(node)?.size === 0) this.#exported.delete(node)
  }
}
