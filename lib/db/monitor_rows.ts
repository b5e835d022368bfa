/** Read model: monitors with their device and plugin names, as the dashboard's tables show them. */
import type { Queryable } from "./driver.ts";
import type { MonitorRow } from "../web/page_data.ts";

export async function loadMonitorRows(
  db: Queryable,
  filter: { deviceId?: number; failing?: boolean; limit?: number } = {},
): Promise<MonitorRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.deviceId !== undefined) {
    params.push(filter.deviceId);
    where.push(`m.device_id = $${params.length}`);
  }
  if (filter.failing) where.push("m.last_error_at > now() - interval '1 hour'");
  params.push(filter.limit ?? 500);
  const rows = await db.query<
    Omit<MonitorRow, "last_polled" | "last_error_at"> & {
      last_polled: Date | null;
      last_error_at: Date | null;
    }
  >(
    `SELECT m.id, m.device_id, coalesce(d.hostname, host(d.ip)) AS device_name,
       p.name AS plugin_name, m.polling_interval, m.enabled, m.last_polled, m.last_error,
       m.last_error_at
     FROM monitors m JOIN devices d ON d.id = m.device_id JOIN plugins p ON p.id = m.plugin_id
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY m.id LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    ...r,
    last_polled: r.last_polled ? new Date(r.last_polled).toISOString() : null,
    last_error_at: r.last_error_at ? new Date(r.last_error_at).toISOString() : null,
  }));
}
