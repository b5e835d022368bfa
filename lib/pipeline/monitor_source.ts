/**
 * What the scheduler should fire, read from the state tables: enabled monitors whose device
 * is neither unreachable nor inactive.
 */
import type { Queryable } from "../db/driver.ts";
import type { PluginSpec, ScheduledMonitor } from "../messages.ts";

const SELECT = `SELECT m.id AS "monitorId", m.device_id AS "deviceId", host(d.ip) AS "deviceIp",
    m.credential_profile_id AS "credentialProfileId", m.plugin_id AS "pluginId",
    m.polling_interval AS "intervalS"
  FROM monitors m JOIN devices d ON d.id = m.device_id
  WHERE m.enabled AND d.status NOT IN ('unreachable', 'inactive')`;

export async function schedulableMonitors(db: Queryable): Promise<ScheduledMonitor[]> {
  return await db.query<ScheduledMonitor>(SELECT);
}

/** The monitor as the scheduler should see it, or null when it must not be scheduled. */
export async function schedulableMonitor(
  db: Queryable,
  id: number,
): Promise<ScheduledMonitor | null> {
  return (await db.query<ScheduledMonitor>(`${SELECT} AND m.id = $1`, [id]))[0] ?? null;
}

export async function monitorIdsOfDevice(db: Queryable, deviceId: number): Promise<number[]> {
  return (await db.query<{ id: number }>("SELECT id FROM monitors WHERE device_id = $1", [
    deviceId,
  ]))
    .map((r) => r.id);
}

export async function loadPlugins(db: Queryable): Promise<Map<number, PluginSpec>> {
  const rows = await db.query<PluginSpec>("SELECT id, name, type, config FROM plugins");
  return new Map(rows.map((p) => [p.id, p]));
}
