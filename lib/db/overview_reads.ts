/**
 * Read model of the dashboard's overview: its figures in four bounded queries. Latest samples
 * come from one index probe per recently polled monitor (never a scan of the metrics table).
 */
import type { Queryable } from "./driver.ts";
import type { OverviewData, TopRow } from "../web/page_data.ts";

const LATEST_SQL = `SELECT m.device_id, coalesce(d.hostname, host(d.ip)) AS name, s.cpu_percent,
    s.memory_used::float8 / nullif(s.memory_total, 0) * 100 AS memory_percent,
    s.disk_used::float8 / nullif(s.disk_total, 0) * 100 AS disk_percent
  FROM monitors m JOIN devices d ON d.id = m.device_id
  CROSS JOIN LATERAL (
    SELECT cpu_percent, memory_used, memory_total, disk_used, disk_total FROM metrics
    WHERE monitor_id = m.id AND ts >= m.last_polled - make_interval(secs => m.polling_interval)
    ORDER BY ts DESC LIMIT 1) s
  WHERE m.enabled AND m.last_polled > now() - interval '1 hour'`;

function top(
  rows: { device_id: number; name: string; [k: string]: unknown }[],
  key: string,
): TopRow[] {
  const seen = new Set<number>();
  return rows.filter((r) => typeof r[key] === "number")
    .sort((a, b) => (b[key] as number) - (a[key] as number))
    .filter((r) => !seen.has(r.device_id) && seen.add(r.device_id))
    .slice(0, 5)
    .map((r) => ({ device_id: r.device_id, name: r.name, value: r[key] as number }));
}

export async function loadOverview(db: Queryable): Promise<OverviewData> {
  const [statusRows, [mon], latest, errors] = await Promise.all([
    db.query<{ status: string; n: number }>(
      "SELECT status, count(*)::int AS n FROM devices GROUP BY status",
    ),
    db.query<{ enabled: number; per_min: number; failing: number }>(
      `SELECT count(*) FILTER (WHERE enabled)::int AS enabled,
         coalesce(sum(60.0 / polling_interval) FILTER (WHERE enabled), 0)::float8 AS per_min,
         count(*) FILTER (WHERE last_error_at > now() - interval '1 hour')::int AS failing
       FROM monitors`,
    ),
    db.query<{ device_id: number; name: string; [k: string]: unknown }>(LATEST_SQL),
    db.query<{ monitor_id: number; device_id: number; name: string; error: string; at: Date }>(
      `SELECT m.id AS monitor_id, m.device_id, coalesce(d.hostname, host(d.ip)) AS name,
         m.last_error AS error, m.last_error_at AS at
       FROM monitors m JOIN devices d ON d.id = m.device_id
       WHERE m.last_error IS NOT NULL AND m.last_error_at IS NOT NULL
       ORDER BY m.last_error_at DESC LIMIT 8`,
    ),
  ]);
  const statuses: Record<string, number> = {
    discovered: 0,
    monitoring: 0,
    unreachable: 0,
    inactive: 0,
  };
  for (const r of statusRows) statuses[r.status] = r.n;
  return {
    statuses,
    devices_total: statusRows.reduce((n, r) => n + r.n, 0),
    monitors_enabled: mon.enabled,
    polls_per_minute: Math.round(mon.per_min * 10) / 10,
    failing_last_hour: mon.failing,
    top_cpu: top(latest, "cpu_percent"),
    top_memory: top(latest, "memory_percent"),
    top_disk: top(latest, "disk_percent"),
    errors: errors.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
    generated_at: new Date().toISOString(),
  };
}
