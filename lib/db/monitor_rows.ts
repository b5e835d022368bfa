/** Read model: monitors with their device and plugin names, as the dashboard's tables show them. */
import type { Queryable } from "./driver.ts";
import type { MonitorRow } from "../web/page_data.ts";
import { containsPattern } from "./pagination.ts";
import { monitorTextMatch } from "./monitors.ts";

/** Which monitors a page lists. */
export interface MonitorFilter {
  deviceId?: number;
  /** failed in the last hour */
  failing?: boolean;
  enabled?: boolean;
  /** text in the device's name or IP, the plugin's or credential profile's name, the last error */
  q?: string;
}

const FROM =
  `FROM monitors m JOIN devices d ON d.id = m.device_id JOIN plugins p ON p.id = m.plugin_id`;

function whereOf(filter: MonitorFilter): { where: string; params: unknown[] } {
  const conds: string[] = [];
  const params: unknown[] = [];
  if (filter.deviceId !== undefined) {
    params.push(filter.deviceId);
    conds.push(`m.device_id = $${params.length}`);
  }
  if (filter.failing) conds.push("m.last_error_at > now() - interval '1 hour'");
  if (filter.enabled !== undefined) {
    params.push(filter.enabled);
    conds.push(`m.enabled = $${params.length}`);
  }
  if (filter.q) {
    params.push(containsPattern(filter.q));
    const p = `$${params.length}`;
    conds.push(`(${monitorTextMatch("m", p)} OR m.last_error ILIKE ${p})`);
  }
  return { where: conds.length ? `WHERE ${conds.join(" AND ")}` : "", params };
}

type Raw = Omit<MonitorRow, "last_polled" | "last_attempted" | "last_error_at"> & {
  last_polled: Date | null;
  last_attempted: Date | null;
  last_error_at: Date | null;
};

const iso = (t: Date | null) => t ? new Date(t).toISOString() : null;

async function select(
  db: Queryable,
  filter: MonitorFilter,
  limit: number,
  offset: number,
): Promise<MonitorRow[]> {
  const { where, params } = whereOf(filter);
  params.push(limit, offset);
  const rows = await db.query<Raw>(
    `SELECT m.id, m.device_id, coalesce(d.hostname, host(d.ip)) AS device_name,
       host(d.ip) AS device_ip, d.status AS device_status, p.name AS plugin_name,
       m.polling_interval, m.enabled, m.last_polled, m.last_attempted, m.consecutive_failures,
       m.last_error, m.last_error_at, m.config
     ${FROM} ${where}
     ORDER BY m.id LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    ...r,
    last_polled: iso(r.last_polled),
    last_attempted: iso(r.last_attempted),
    last_error_at: iso(r.last_error_at),
  }));
}

/** Up to `limit` (default 500) monitors in id order: a device's, or those failing. */
export function loadMonitorRows(
  db: Queryable,
  filter: MonitorFilter & { limit?: number } = {},
): Promise<MonitorRow[]> {
  return select(db, filter, filter.limit ?? 500, 0);
}

/** One page of the monitors that match, and how many match in all. */
export async function loadMonitorPage(
  db: Queryable,
  filter: MonitorFilter,
  page: { limit: number; offset: number },
): Promise<{ rows: MonitorRow[]; total: number }> {
  const rows = await select(db, filter, page.limit, page.offset);
  if (page.offset === 0 && rows.length < page.limit) return { rows, total: rows.length };
  const { where, params } = whereOf(filter);
  const [{ n }] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n ${FROM} ${where}`,
    params,
  );
  return { rows, total: Number(n) };
}
