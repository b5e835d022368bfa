import { type Queryable, UniqueViolationError } from "./driver.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";

export type PollerNodeStatus = "pending" | "enrolled" | "revoked";

/** What a node last reported about itself with its heartbeat. */
export interface PollerNodeStats {
  polls_per_s?: number;
  buffered?: number;
  dropped?: number;
  dead_letters?: number;
  monitors?: number;
}

/** A node's report as the hub's tick writes it (version and stats, as a heartbeat sets them). */
export interface NodeReportRow {
  id: number;
  version: string;
  stats: PollerNodeStats;
}

export interface PollerNode {
  id: number;
  site_id: number;
  site: string;
  name: string;
  status: PollerNodeStatus;
  version: string | null;
  enrolment_expires_at: Date | null;
  enrolled_at: Date | null;
  revoked_at: Date | null;
  last_heartbeat: Date | null;
  stats: PollerNodeStats;
  created_at: Date;
}

/** The node a credential hash belongs to, as the node-auth middleware needs it. */
export interface NodeIdentity {
  id: number;
  site_id: number;
  name: string;
  status: PollerNodeStatus;
}

const COLUMNS = `n.id, n.site_id, s.name AS site, n.name, n.status, n.version,
  n.enrolment_expires_at, n.enrolled_at, n.revoked_at, n.last_heartbeat, n.stats, n.created_at`;
const FROM = "poller_nodes n JOIN sites s ON s.id = n.site_id";

export const pollerNodesRepo = {
  async list(
    db: Queryable,
    list: ListParams,
    filter: { site_id?: number },
  ): Promise<Page<PollerNode>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.site_id !== undefined) {
      params.push(filter.site_id);
      where.push(`n.site_id = $${params.length}`);
    }
    return await listPage<PollerNode>(db, {
      from: FROM,
      select: COLUMNS,
      where,
      params,
      sortable: { id: "n.id", name: "lower(n.name)", last_heartbeat: "n.last_heartbeat" },
      defaultSort: "id",
    }, list).then((page) => ({ ...page, items: page.items }));
  },
  async get(db: Queryable, id: number): Promise<PollerNode | undefined> {
    return (await db.query<PollerNode>(`SELECT ${COLUMNS} FROM ${FROM} WHERE n.id = $1`, [id]))[0];
  },
  async create(
    db: Queryable,
    n: { site_id: number; name: string; enrolment_token_hash: string; expires_at: Date },
  ): Promise<PollerNode> {
    const [row] = await db.query<{ id: number }>(
      `INSERT INTO poller_nodes (site_id, name, enrolment_token_hash, enrolment_expires_at)
       VALUES ($1, $2, $3, $4) ON CONFLICT (lower(name)) DO NOTHING RETURNING id`,
      [n.site_id, n.name, n.enrolment_token_hash, n.expires_at],
    );
    if (!row) {
      throw new UniqueViolationError(`a poller node named "${n.name}" exists`, {
        fields: ["name"],
      });
    }
    return (await pollerNodesRepo.get(db, row.id))!;
  },
  /**
   * Exchanges a live, unused enrolment token for the node's credential (one time: the token's
   * hash is cleared in the same statement). Returns the node, or undefined.
   */
  async enrol(
    db: Queryable,
    tokenHash: string,
    credentialHash: string,
    version: string,
  ): Promise<NodeIdentity | undefined> {
    return (await db.query<NodeIdentity>(
      `UPDATE poller_nodes SET enrolment_token_hash = NULL, enrolment_expires_at = NULL,
         credential_hash = $2, status = 'enrolled', enrolled_at = now(), version = $3,
         updated_at = now()
       WHERE enrolment_token_hash = $1 AND status = 'pending' AND enrolment_expires_at > now()
       RETURNING id, site_id, name, status`,
      [tokenHash, credentialHash, version],
    ))[0];
  },
  async byCredential(db: Queryable, credentialHash: string): Promise<NodeIdentity | undefined> {
    return (await db.query<NodeIdentity>(
      "SELECT id, site_id, name, status FROM poller_nodes WHERE credential_hash = $1",
      [credentialHash],
    ))[0];
  },
  async revoke(db: Queryable, id: number): Promise<boolean> {
    return (await db.query(
      `UPDATE poller_nodes SET status = 'revoked', revoked_at = now(), credential_hash = NULL,
         enrolment_token_hash = NULL, updated_at = now()
       WHERE id = $1 AND status <> 'revoked' RETURNING id`,
      [id],
    )).length > 0;
  },
  async heartbeat(
    db: Queryable,
    id: number,
    version: string,
    stats: PollerNodeStats,
  ): Promise<void> {
    await db.query(
      `UPDATE poller_nodes SET last_heartbeat = now(), version = COALESCE(NULLIF($2, ''), version),
         stats = CASE WHEN $3 = '{}' THEN stats ELSE $3::text::jsonb END
       WHERE id = $1 AND status = 'enrolled'`,
      [id, version, JSON.stringify(stats)],
    );
  },
  /** Nodes whose channel is open here: alive now. */
  async touch(db: Queryable, ids: number[]): Promise<void> {
    if (!ids.length) return;
    await db.query(
      `UPDATE poller_nodes SET last_heartbeat = now()
       WHERE id = ANY($1::int[]) AND status = 'enrolled'`,
      [ids],
    );
  },
  /**
   * A central process's once-a-second look, in one statement: the nodes of `ids` (channels
   * open here, or whose ingest requests brought a report since the last look) that are still
   * enrolled, their heartbeat set to now and, for those in `reports`, their version and stats
   * set as reported; and per site of `sites` its live nodes (enrolled, heartbeat newer than
   * `timeoutMs`, or just touched), by id.
   */
  async touchAndLive(
    db: Queryable,
    ids: number[],
    sites: number[],
    timeoutMs: number,
    reports: NodeReportRow[] = [],
  ): Promise<{ enrolled: number[]; live: Map<number, number[]> }> {
    const rows = await db.query<{ site_id: number | null; ids: number[] }>(
      `WITH rep AS (
         SELECT * FROM json_to_recordset($4::text::json) AS r(id int, version text, stats jsonb)
       ), touched AS (
         UPDATE poller_nodes n SET last_heartbeat = now(),
           version = COALESCE(NULLIF(rep.version, ''), n.version),
           stats = COALESCE(rep.stats, n.stats)
         FROM unnest($1::int[]) AS i(id) LEFT JOIN rep ON rep.id = i.id
         WHERE n.id = i.id AND n.status = 'enrolled' RETURNING n.id
       )
       SELECT NULL::int AS site_id, coalesce(array_agg(id), '{}') AS ids FROM touched
       UNION ALL
       SELECT site_id, array_agg(id ORDER BY id) FROM poller_nodes
       WHERE site_id = ANY($2::int[]) AND status = 'enrolled'
         AND (last_heartbeat > now() - make_interval(secs => $3::float8 / 1000)
              OR id IN (SELECT id FROM touched))
       GROUP BY site_id`,
      [ids, sites, timeoutMs, JSON.stringify(reports)],
    );
    const live = new Map<number, number[]>(sites.map((s) => [s, []]));
    let enrolled: number[] = [];
    for (const r of rows) {
      if (r.site_id === null) enrolled = r.ids.map(Number);
      else live.set(r.site_id, r.ids.map(Number));
    }
    return { enrolled, live };
  },
  /** Enrolled nodes of the site whose heartbeat is newer than `timeoutMs`, by id. */
  async liveOfSite(db: Queryable, siteId: number, timeoutMs: number): Promise<number[]> {
    return (await db.query<{ id: number }>(
      `SELECT id FROM poller_nodes WHERE site_id = $1 AND status = 'enrolled'
         AND last_heartbeat > now() - make_interval(secs => $2::float8 / 1000)
       ORDER BY id`,
      [siteId, timeoutMs],
    )).map((r) => r.id);
  },
};
