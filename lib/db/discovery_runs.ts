import type { Queryable } from "./driver.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";

export type DiscoveryRunStatus = "queued" | "running" | "completed" | "failed" | "cancelled";

export interface UnidentifiedHost {
  ip: string;
  open_ports: number[];
  reason: string;
}

export interface DiscoveryRun {
  id: number;
  discovery_profile_id: number | null;
  status: DiscoveryRunStatus;
  addresses_total: number;
  addresses_scanned: number;
  hosts_found: number;
  identified: number;
  failed: number;
  ping_replies: number;
  error: string | null;
  pinged: boolean;
  device_ids: number[];
  unidentified: UnidentifiedHost[];
  started_by: number | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface DiscoveryProgress {
  addresses_scanned: number;
  hosts_found: number;
  identified: number;
  failed: number;
  ping_replies: number;
}

const COLUMNS = `id, discovery_profile_id, status, addresses_total, addresses_scanned, hosts_found,
  identified, failed, ping_replies, error, pinged, device_ids, unidentified, started_by, created_at, started_at,
  finished_at`;

export const discoveryRunsRepo = {
  async create(
    db: Queryable,
    r: { discovery_profile_id: number; addresses_total: number; started_by: number | null },
  ): Promise<DiscoveryRun> {
    const [row] = await db.query<DiscoveryRun>(
      `INSERT INTO discovery_runs (discovery_profile_id, addresses_total, started_by)
       VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
      [r.discovery_profile_id, r.addresses_total, r.started_by],
    );
    return row;
  },

  async get(db: Queryable, id: number): Promise<DiscoveryRun | undefined> {
    return (await db.query<DiscoveryRun>(`SELECT ${COLUMNS} FROM discovery_runs WHERE id = $1`, [
      id,
    ]))[0];
  },

  async list(
    db: Queryable,
    list: ListParams,
    filter: { profileId?: number; status?: DiscoveryRunStatus },
  ): Promise<Page<DiscoveryRun>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.profileId !== undefined) {
      params.push(filter.profileId);
      where.push(`discovery_profile_id = $${params.length}`);
    }
    if (filter.status) {
      params.push(filter.status);
      where.push(`status = $${params.length}`);
    }
    return await listPage<DiscoveryRun>(db, {
      from: "discovery_runs",
      select: COLUMNS,
      where,
      params,
      sortable: { id: "id", created_at: "created_at", status: "status" },
      defaultSort: "id",
    }, list);
  },

  async markRunning(db: Queryable, id: number, pinged: boolean): Promise<void> {
    await db.query(
      `UPDATE discovery_runs SET status = 'running', started_at = now(), pinged = $2
       WHERE id = $1`,
      [id, pinged],
    );
  },

  /** Progress of a running run; a save that arrives after finish() changes nothing. */
  async saveProgress(
    db: Queryable,
    id: number,
    p: DiscoveryProgress,
    unidentified: UnidentifiedHost[],
  ): Promise<void> {
    await db.query(
      `UPDATE discovery_runs SET addresses_scanned = $2, hosts_found = $3, identified = $4,
         failed = $5, ping_replies = $6, unidentified = $7::text::jsonb
       WHERE id = $1 AND status = 'running'`,
      [
        id,
        p.addresses_scanned,
        p.hosts_found,
        p.identified,
        p.failed,
        p.ping_replies,
        JSON.stringify(unidentified),
      ],
    );
  },

  async finish(
    db: Queryable,
    id: number,
    r: DiscoveryProgress & {
      status: DiscoveryRunStatus;
      error: string | null;
      device_ids: number[];
      unidentified: UnidentifiedHost[];
    },
  ): Promise<void> {
    await db.query(
      `UPDATE discovery_runs SET status = $2, error = $3, addresses_scanned = $4, hosts_found = $5,
         identified = $6, failed = $7, device_ids = $8::text::int[], unidentified = $9::text::jsonb,
         ping_replies = $10, finished_at = now()
       WHERE id = $1`,
      [
        id,
        r.status,
        r.error,
        r.addresses_scanned,
        r.hosts_found,
        r.identified,
        r.failed,
        `{${r.device_ids.join(",")}}`,
        JSON.stringify(r.unidentified),
        r.ping_replies,
      ],
    );
  },

  /** Runs left 'running' by a process that stopped: they will never finish. */
  async failInterrupted(db: Queryable): Promise<number> {
    const rows = await db.query(
      `UPDATE discovery_runs SET status = 'failed', error = 'interrupted by a restart',
         finished_at = now() WHERE status IN ('queued', 'running') RETURNING id`,
    );
    return rows.length;
  },
};
