import type { Queryable } from "./driver.ts";
import {
  containsPattern,
  isoTimestamp,
  listPage,
  type ListParams,
  type Page,
} from "./pagination.ts";

export type DeviceStatus = "discovered" | "monitoring" | "unreachable" | "inactive";
export const DEVICE_STATUSES: readonly DeviceStatus[] = [
  "discovered",
  "monitoring",
  "unreachable",
  "inactive",
];

export interface Device {
  id: number;
  ip: string;
  hostname: string | null;
  domain: string | null;
  os: string | null;
  os_version: string | null;
  serial_number: string | null;
  memory_total_bytes: number | null;
  status: DeviceStatus;
  status_reason: string | null;
  /** timestamps: ISO 8601 in UTC to the millisecond, as PostgreSQL formats them (isoTimestamp) */
  status_changed_at: string | null;
  last_seen: string | null;
  discovery_profile_id: number | null;
  site_id: number;
  created_at: string;
  updated_at: string;
}

export interface DeviceFields {
  hostname?: string | null;
  domain?: string | null;
  os?: string | null;
  os_version?: string | null;
  serial_number?: string | null;
}

type R = Device;
/**
 * When the device last answered: discovery or a recovery probe (the column), or the latest
 * successful poll of any of its monitors, whichever is later.
 */
const LAST_SEEN = `GREATEST(devices.last_seen,
  (SELECT max(m.last_polled) FROM monitors m WHERE m.device_id = devices.id))`;
const COLUMNS = `id, host(ip) AS ip, hostname, domain, os, os_version, serial_number,
  memory_total_bytes, status, status_reason, ${isoTimestamp("status_changed_at")},
  ${isoTimestamp(LAST_SEEN, "last_seen")}, discovery_profile_id, site_id,
  ${isoTimestamp("created_at")}, ${isoTimestamp("updated_at")}`;
const statusLiteral = (s: DeviceStatus) => {
  if (!DEVICE_STATUSES.includes(s)) throw new RangeError(`not a device status: ${s}`);
  return `'${s}'`;
};
const EDITABLE = ["hostname", "domain", "os", "os_version", "serial_number"] as const;

export const devicesRepo = {
  async list(
    db: Queryable,
    list: ListParams,
    filter: { status?: DeviceStatus; q?: string },
  ): Promise<Page<Device>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status) {
      params.push(filter.status);
      where.push(`status = $${params.length}`);
    }
    if (filter.q?.includes("\u0000")) {
      where.push("false"); // no stored text holds NUL, and PostgreSQL refuses it as a parameter
    } else if (filter.q) {
      params.push(containsPattern(filter.q));
      where.push(`(host(ip) LIKE $${params.length} OR hostname ILIKE $${params.length})`);
    }
    return await listPage<R>(db, {
      from: "devices",
      select: COLUMNS,
      where,
      params,
      sortable: {
        id: "id",
        // the inet column, by address (the bare name would be the text alias: .1, .10, .2)
        ip: "devices.ip",
        hostname: "lower(hostname)",
        status: "status",
        os: "os",
        // never seen counts as oldest: first going up, last going down
        last_seen: `COALESCE(${LAST_SEEN}, '-infinity')`,
        created_at: "devices.created_at", // the column, not the select list's text
      },
      defaultSort: "id",
      pageFirst: true, // last_seen's subquery
      json: true, // every column is as the response gives it
    }, list);
  },
  /** The id of the device at `ip`, if NMSlite knows one there. */
  async idByIp(db: Queryable, ip: string): Promise<number | undefined> {
    return (await db.query<{ id: number }>("SELECT id FROM devices WHERE ip = $1::inet", [ip]))[0]
      ?.id;
  },
  async get(db: Queryable, id: number): Promise<Device | undefined> {
    return (await db.query<R>(`SELECT ${COLUMNS} FROM devices WHERE id = $1`, [id]))[0];
  },
  /** A new device starts as `discovered` (lib/inventory/device_lifecycle.ts). */
  async create(
    db: Queryable,
    d: { ip: string; status_reason: string; site_id?: number } & DeviceFields,
  ): Promise<Device> {
    return (await db.query<R>(
      `INSERT INTO devices (ip, hostname, domain, os, os_version, serial_number, status,
         status_reason, status_changed_at, site_id)
       VALUES ($1, $2, $3, $4, $5, $6, 'discovered', $7, now(), $8) RETURNING ${COLUMNS}`,
      [
        d.ip,
        d.hostname ?? null,
        d.domain ?? null,
        d.os ?? null,
        d.os_version ?? null,
        d.serial_number ?? null,
        d.status_reason,
        d.site_id ?? 1,
      ],
    ))[0];
  },
  /** The descriptive fields; the status changes only through lib/inventory/device_lifecycle.ts. */
  async update(db: Queryable, id: number, d: DeviceFields): Promise<Device | undefined> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const key of EDITABLE) {
      if (d[key] !== undefined) {
        params.push(d[key]);
        sets.push(`${key} = $${params.length}`);
      }
    }
    sets.push("updated_at = now()");
    return (await db.query<R>(
      `UPDATE devices SET ${sets.join(", ")} WHERE id = $1 RETURNING ${COLUMNS}`,
      params,
    ))[0];
  },
  /**
   * Sets the status and its reason when the device is in one of `from` (any status when left
   * out) and, with `unmonitored`, no monitor uses it; false when nothing changed.
   */
  async setStatus(
    db: Queryable,
    id: number,
    to: DeviceStatus,
    reason: string | null,
    when: { from?: readonly DeviceStatus[]; unmonitored?: boolean; seen?: boolean } = {},
  ): Promise<boolean> {
    const where = ["id = $1"];
    if (when.from) where.push(`status IN (${when.from.map(statusLiteral).join(", ")})`);
    if (when.unmonitored) where.push("NOT EXISTS (SELECT 1 FROM monitors WHERE device_id = $1)");
    return (await db.query(
      `UPDATE devices SET status = $2, status_reason = $3,
         status_changed_at = CASE WHEN status <> $2 THEN now() ELSE status_changed_at END,
         ${when.seen ? "last_seen = now()," : ""} updated_at = now()
       WHERE ${where.join(" AND ")} RETURNING id`,
      [id, to, reason],
    )).length > 0;
  },
  /** Unreachable devices and since when (the health monitor picks them up after a restart). */
  async listUnreachable(db: Queryable): Promise<{ id: number; changed: Date | null }[]> {
    return await db.query<{ id: number; changed: Date | null }>(
      "SELECT id, status_changed_at AS changed FROM devices WHERE status = 'unreachable'",
    );
  },
  /** Where to probe a device: its address and the WinRM ports of its monitors' credentials. */
  async probeTarget(
    db: Queryable,
    id: number,
  ): Promise<{ ip: string; status: DeviceStatus; ports: number[]; site_id: number } | undefined> {
    return (await db.query<{ ip: string; status: DeviceStatus; ports: number[]; site_id: number }>(
      `SELECT host(d.ip) AS ip, d.status, d.site_id,
         COALESCE(array_agg(DISTINCT c.port) FILTER (WHERE c.port IS NOT NULL), '{5985,5986}') AS ports
       FROM devices d
       LEFT JOIN monitors m ON m.device_id = d.id
       LEFT JOIN credential_profiles c ON c.id = m.credential_profile_id
       WHERE d.id = $1 GROUP BY d.id`,
      [id],
    ))[0];
  },
  /**
   * A host discovery identified: created once per IP; a later run refreshes its identity and
   * last_seen but never its status (the health monitor and operators own that).
   */
  async upsertDiscovered(
    db: Queryable,
    d:
      & { ip: string; discovery_profile_id: number }
      & DeviceFields
      & { memory_total_bytes?: number | null; status_reason: string },
  ): Promise<{ id: number; created: boolean }> {
    return (await db.query<{ id: number; created: boolean }>(
      `INSERT INTO devices (ip, hostname, domain, os, os_version, serial_number, memory_total_bytes,
         status, status_reason, status_changed_at, last_seen, discovery_profile_id, site_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'discovered', $9, now(), now(), $8,
         COALESCE((SELECT site_id FROM discovery_profiles WHERE id = $8), 1))
       ON CONFLICT (ip) DO UPDATE SET
         hostname = COALESCE(EXCLUDED.hostname, devices.hostname),
         domain = COALESCE(EXCLUDED.domain, devices.domain),
         os = COALESCE(EXCLUDED.os, devices.os),
         os_version = COALESCE(EXCLUDED.os_version, devices.os_version),
         serial_number = COALESCE(EXCLUDED.serial_number, devices.serial_number),
         memory_total_bytes = COALESCE(EXCLUDED.memory_total_bytes, devices.memory_total_bytes),
         discovery_profile_id = COALESCE(devices.discovery_profile_id, EXCLUDED.discovery_profile_id),
         last_seen = now(), updated_at = now()
       RETURNING id, (xmax = 0) AS created`,
      [
        d.ip,
        d.hostname ?? null,
        d.domain ?? null,
        d.os ?? null,
        d.os_version ?? null,
        d.serial_number ?? null,
        d.memory_total_bytes ?? null,
        d.discovery_profile_id,
        d.status_reason,
      ],
    ))[0];
  },
  /** Of `ids`, the devices whose host name is unknown (added by IP and not identified yet). */
  async nameless(db: Queryable, ids: number[]): Promise<number[]> {
    if (ids.length === 0) return [];
    return (await db.query<{ id: number }>(
      "SELECT id FROM devices WHERE id = ANY($1::text::int[]) AND hostname IS NULL",
      [`{${ids.join(",")}}`],
    )).map((r) => r.id);
  },
  /**
   * Where to ask a device who it is: its address and the credential profile of the monitor
   * that just polled it.
   */
  async identifyTarget(
    db: Queryable,
    monitorId: number,
  ): Promise<{ ip: string; credentialProfileId: number } | undefined> {
    return (await db.query<{ ip: string; credentialProfileId: number }>(
      `SELECT host(d.ip) AS ip, m.credential_profile_id AS "credentialProfileId"
       FROM monitors m JOIN devices d ON d.id = m.device_id WHERE m.id = $1`,
      [monitorId],
    ))[0];
  },
  /**
   * The identity a host reported, stored only while the device is still nameless (an operator
   * or discovery who named it first wins); false when it already had a name.
   */
  async setIdentity(
    db: Queryable,
    id: number,
    d: DeviceFields & { memory_total_bytes?: number | null },
  ): Promise<boolean> {
    return (await db.query(
      `UPDATE devices SET hostname = $2, domain = COALESCE($3, domain), os = COALESCE($4, os),
         os_version = COALESCE($5, os_version), serial_number = COALESCE($6, serial_number),
         memory_total_bytes = COALESCE($7, memory_total_bytes), updated_at = now()
       WHERE id = $1 AND hostname IS NULL RETURNING id`,
      [
        id,
        d.hostname,
        d.domain ?? null,
        d.os ?? null,
        d.os_version ?? null,
        d.serial_number ?? null,
        d.memory_total_bytes ?? null,
      ],
    )).length > 0;
  },
  async countByStatus(db: Queryable): Promise<Map<DeviceStatus, number>> {
    const rows = await db.query<{ status: DeviceStatus; n: number }>(
      "SELECT status, count(*)::int AS n FROM devices GROUP BY status",
    );
    return new Map(rows.map((r) => [r.status, r.n]));
  },
  async monitorCount(db: Queryable, id: number): Promise<number> {
    return (await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM monitors WHERE device_id = $1",
      [id],
    ))[0].n;
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM devices WHERE id = $1 RETURNING id", [id])).length > 0;
  },
};
