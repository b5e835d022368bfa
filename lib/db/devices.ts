import type { Queryable } from "./driver.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";

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
  status_changed_at: Date | null;
  last_seen: Date | null;
  discovery_profile_id: number | null;
  created_at: Date;
  updated_at: Date;
}

export interface DeviceFields {
  hostname?: string | null;
  domain?: string | null;
  os?: string | null;
  os_version?: string | null;
  serial_number?: string | null;
  status?: DeviceStatus;
  status_reason?: string | null;
}

type R = Device;
const COLUMNS = `id, host(ip) AS ip, hostname, domain, os, os_version, serial_number,
  memory_total_bytes, status, status_reason, status_changed_at, last_seen, discovery_profile_id,
  created_at, updated_at`;
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
      params.push(`%${filter.q}%`);
      where.push(`(host(ip) LIKE $${params.length} OR hostname ILIKE $${params.length})`);
    }
    return await listPage<R>(db, {
      from: "devices",
      select: COLUMNS,
      where,
      params,
      sortable: {
        id: "id",
        ip: "ip",
        hostname: "lower(hostname)",
        status: "status",
        os: "os",
        last_seen: "last_seen",
        created_at: "created_at",
      },
      defaultSort: "id",
    }, list);
  },
  async get(db: Queryable, id: number): Promise<Device | undefined> {
    return (await db.query<R>(`SELECT ${COLUMNS} FROM devices WHERE id = $1`, [id]))[0];
  },
  async create(db: Queryable, d: { ip: string } & DeviceFields): Promise<Device> {
    return (await db.query<R>(
      `INSERT INTO devices (ip, hostname, domain, os, os_version, serial_number, status, status_changed_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'discovered', now()) RETURNING ${COLUMNS}`,
      [
        d.ip,
        d.hostname ?? null,
        d.domain ?? null,
        d.os ?? null,
        d.os_version ?? null,
        d.serial_number ?? null,
      ],
    ))[0];
  },
  async update(db: Queryable, id: number, d: DeviceFields): Promise<Device | undefined> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const key of EDITABLE) {
      if (d[key] !== undefined) {
        params.push(d[key]);
        sets.push(`${key} = $${params.length}`);
      }
    }
    if (d.status !== undefined) {
      params.push(d.status);
      sets.push(
        `status_changed_at = CASE WHEN status <> $${params.length} THEN now() ELSE status_changed_at END`,
      );
      sets.push(`status = $${params.length}`);
      params.push(d.status_reason ?? null);
      sets.push(`status_reason = $${params.length}`);
    }
    sets.push("updated_at = now()");
    return (await db.query<R>(
      `UPDATE devices SET ${sets.join(", ")} WHERE id = $1 RETURNING ${COLUMNS}`,
      params,
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
      & Omit<DeviceFields, "status" | "status_reason">
      & {
        memory_total_bytes?: number | null;
      },
  ): Promise<{ id: number; created: boolean }> {
    return (await db.query<{ id: number; created: boolean }>(
      `INSERT INTO devices (ip, hostname, domain, os, os_version, serial_number, memory_total_bytes,
         status, status_changed_at, last_seen, discovery_profile_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'discovered', now(), now(), $8)
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
      ],
    ))[0];
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
