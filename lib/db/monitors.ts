import { type Queryable, UniqueViolationError } from "./driver.ts";
import type { ScheduledMonitor } from "../messages.ts";
import {
  containsPattern,
  isoTimestamp,
  listPage,
  type ListParams,
  type Page,
} from "./pagination.ts";
import { LOCAL_SITE_ID } from "./sites.ts";

export interface Monitor {
  id: number;
  device_id: number;
  credential_profile_id: number;
  plugin_id: number;
  polling_interval: number;
  enabled: boolean;
  /** collection config (lib/collectors/collection_profile.ts) */
  config: Record<string, unknown>;
  last_polled: string | null;
  last_attempted: string | null;
  last_error: string | null;
  last_error_at: string | null;
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
}

export interface MonitorWrite {
  device_id: number;
  credential_profile_id: number;
  plugin_id: number;
  polling_interval: number;
  enabled: boolean;
  config: Record<string, unknown>;
}

type R = Monitor;
const COLUMNS = `id, device_id, credential_profile_id, plugin_id, polling_interval, enabled, config,
  ${isoTimestamp("last_polled")}, ${isoTimestamp("last_attempted")}, last_error,
  ${isoTimestamp("last_error_at")}, consecutive_failures, ${isoTimestamp("created_at")},
  ${isoTimestamp("updated_at")}`;

/** What the scheduler fires: enabled monitors whose device is neither unreachable nor inactive. */
const SCHEDULABLE =
  `SELECT m.id AS "monitorId", m.device_id AS "deviceId", host(d.ip) AS "deviceIp",
    d.hostname AS "deviceHostname", m.credential_profile_id AS "credentialProfileId", m.plugin_id AS "pluginId",
    m.polling_interval AS "intervalS", NULLIF(m.config, '{}'::jsonb) AS config
  FROM monitors m JOIN devices d ON d.id = m.device_id
  WHERE m.enabled AND d.status NOT IN ('unreachable', 'inactive') AND d.site_id = $1`;

/**
 * The monitor (`m`, a table alias) matches the pattern in `p` (a placeholder) by its device's
 * host name or IP, its plugin's name or its credential profile's name: the API's and the
 * dashboard's search.
 */
export function monitorTextMatch(m: string, p: string): string {
  return `(EXISTS (SELECT 1 FROM devices sd WHERE sd.id = ${m}.device_id
      AND (sd.hostname ILIKE ${p} OR host(sd.ip) LIKE ${p}))
    OR EXISTS (SELECT 1 FROM plugins sp WHERE sp.id = ${m}.plugin_id AND sp.name ILIKE ${p})
    OR EXISTS (SELECT 1 FROM credential_profiles sc
      WHERE sc.id = ${m}.credential_profile_id AND sc.name ILIKE ${p}))`;
}

/**
 * Reads of monitors by a batch of ids (the scheduler re-reads changed monitors 1,000 at a time)
 * are planned at every run, never from a prepared statement's cached plan: on tables nothing
 * analyzes (autovacuum off) a plan PostgreSQL settled on while they were small stays as they
 * grow. In bench:fleet at 100,000 hosts the re-read then ran ~60 s per batch of 1,000 and a
 * bulk enable never reached the scheduler (it held 2,000 of 100,000 monitors).
 */
const PLAN_EACH_RUN = { prepare: false } as const;

/**
 * `select` (reading monitor `wanted.id`) once per id of an unnest of the batch, as a LATERAL
 * subquery PostgreSQL does not fold into a join: a look-up in monitors' and devices' primary
 * keys per id. On unanalyzed tables of 100,000 rows the plain join with `m.id = ANY(...)` was
 * planned as a hash join over every device of the site (130 ms a batch); this, 3.5 ms.
 */
function perId(ids: string, select: string): string {
  return `SELECT s.* FROM unnest(${ids}::int[]) AS wanted(id), LATERAL (${select} LIMIT 1) s`;
}

export const monitorsRepo = {
  /** The site's schedulable monitors (default: the built-in site this server polls itself). */
  async schedulable(db: Queryable, siteId = LOCAL_SITE_ID): Promise<ScheduledMonitor[]> {
    return await db.query<ScheduledMonitor>(SCHEDULABLE, [siteId]);
  },
  /** The monitor as the scheduler should see it, or null when it must not be scheduled. */
  async schedulableOne(
    db: Queryable,
    id: number,
    siteId = LOCAL_SITE_ID,
  ): Promise<ScheduledMonitor | null> {
    return (await monitorsRepo.schedulableMany(db, [id], siteId))[0] ?? null;
  },
  /** schedulableOne for many ids at once: those that must be scheduled (the others are absent). */
  async schedulableMany(
    db: Queryable,
    ids: number[],
    siteId = LOCAL_SITE_ID,
  ): Promise<ScheduledMonitor[]> {
    if (!ids.length) return [];
    return await db.query<ScheduledMonitor>(
      perId("$2", `${SCHEDULABLE} AND m.id = wanted.id`),
      [siteId, ids],
      PLAN_EACH_RUN,
    );
  },
  /** The site of each monitor of `ids` that exists (its device's; deleted ones are absent). */
  async sitesOf(
    db: Queryable,
    ids: number[],
  ): Promise<{ id: number; site_id: number; device_id: number }[]> {
    if (!ids.length) return [];
    return await db.query<{ id: number; site_id: number; device_id: number }>(
      perId(
        "$1",
        `SELECT m.id, d.site_id, m.device_id FROM monitors m JOIN devices d ON d.id = m.device_id
         WHERE m.id = wanted.id`,
      ),
      [ids],
      PLAN_EACH_RUN,
    );
  },
  /** The site a monitor's device belongs to. */
  async siteOf(db: Queryable, id: number): Promise<number | undefined> {
    return (await db.query<{ site_id: number }>(
      "SELECT d.site_id FROM monitors m JOIN devices d ON d.id = m.device_id WHERE m.id = $1",
      [id],
    ))[0]?.site_id;
  },
  async idsOfDevice(db: Queryable, deviceId: number): Promise<number[]> {
    return (await db.query<{ id: number }>("SELECT id FROM monitors WHERE device_id = $1", [
      deviceId,
    ])).map((r) => r.id);
  },
  async list(
    db: Queryable,
    list: ListParams,
    filter: { device_id?: number; enabled?: boolean; q?: string },
  ): Promise<Page<Monitor>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.device_id !== undefined) {
      params.push(filter.device_id);
      where.push(`device_id = $${params.length}`);
    }
    if (filter.enabled !== undefined) {
      params.push(filter.enabled);
      where.push(`enabled = $${params.length}`);
    }
    if (filter.q?.includes("\u0000")) {
      where.push("false"); // no stored text holds NUL, and PostgreSQL refuses it as a parameter
    } else if (filter.q) {
      params.push(containsPattern(filter.q));
      where.push(monitorTextMatch("monitors", `$${params.length}`));
    }
    return await listPage<R>(db, {
      from: "monitors",
      select: COLUMNS,
      where,
      params,
      sortable: {
        id: "id",
        device_id: "device_id",
        polling_interval: "polling_interval",
        // qualified: the bare names would be the select list's text (isoTimestamp)
        last_polled: "monitors.last_polled",
        last_error_at: "monitors.last_error_at",
        created_at: "monitors.created_at",
      },
      defaultSort: "id",
    }, list);
  },
  async get(db: Queryable, id: number): Promise<Monitor | undefined> {
    return (await db.query<R>(`SELECT ${COLUMNS} FROM monitors WHERE id = $1`, [id]))[0];
  },
  /** Refuses (UniqueViolationError naming it) a second monitor of the same target. */
  async create(db: Queryable, m: MonitorWrite): Promise<Monitor> {
    const [row] = await db.query<R>(
      `INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval, enabled,
         config)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (device_id, credential_profile_id, plugin_id) DO NOTHING
       RETURNING ${COLUMNS}`,
      [m.device_id, m.credential_profile_id, m.plugin_id, m.polling_interval, m.enabled, m.config],
    );
    if (row) return row;
    throw await duplicateMonitor(db, m);
  },
  async update(db: Queryable, id: number, m: MonitorWrite): Promise<Monitor | undefined> {
    const other = await sameTarget(db, m, id);
    if (other !== undefined) throw duplicateError(other, m);
    return (await db.query<R>(
      `UPDATE monitors SET device_id = $2, credential_profile_id = $3, plugin_id = $4,
         polling_interval = $5, enabled = $6, config = $7, updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [
        id,
        m.device_id,
        m.credential_profile_id,
        m.plugin_id,
        m.polling_interval,
        m.enabled,
        m.config,
      ],
    ))[0];
  },
  /**
   * Enables or disables the monitors of `ids` (distinct) that exist: each one found, and
   * whether this changed it (false when it already was so). Rows are locked in id order, so
   * two overlapping calls cannot deadlock.
   */
  async setEnabled(
    db: Queryable,
    ids: number[],
    enabled: boolean,
  ): Promise<{ id: number; changed: boolean }[]> {
    if (!ids.length) return [];
    return await db.query<{ id: number; changed: boolean }>(
      `WITH found AS (
         SELECT id, enabled FROM monitors WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE
       ), changed AS (
         UPDATE monitors m SET enabled = $2, updated_at = now()
         FROM found f WHERE m.id = f.id AND f.enabled <> $2
         RETURNING m.id
       )
       SELECT f.id, (c.id IS NOT NULL) AS changed
       FROM found f LEFT JOIN changed c ON c.id = f.id ORDER BY f.id`,
      [ids, enabled],
    );
  },
  /** Deletes the monitor and, through the foreign key's cascade, its metrics. */
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM monitors WHERE id = $1 RETURNING id", [id])).length > 0;
  },
};

/** The monitor other than `exceptId` that polls the same device with the same profile and plugin. */
async function sameTarget(db: Queryable, m: MonitorWrite, exceptId = 0) {
  return (await db.query<{ id: number }>(
    `SELECT id FROM monitors
     WHERE device_id = $1 AND credential_profile_id = $2 AND plugin_id = $3 AND id <> $4`,
    [m.device_id, m.credential_profile_id, m.plugin_id, exceptId],
  ))[0]?.id;
}

async function duplicateMonitor(db: Queryable, m: MonitorWrite): Promise<UniqueViolationError> {
  return duplicateError(await sameTarget(db, m), m);
}

function duplicateError(existing: number | undefined, m: MonitorWrite): UniqueViolationError {
  return new UniqueViolationError(
    `monitor ${existing} already polls device ${m.device_id} with credential profile ` +
      `${m.credential_profile_id} and plugin ${m.plugin_id}`,
    { existing_id: existing, fields: ["device_id", "credential_profile_id", "plugin_id"] },
  );
}
