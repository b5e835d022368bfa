/**
 * Reads of what the extended and full collection profiles store, per device (over all its
 * monitors): the latest services, the latest top-process list, event log entries with
 * filters, and device events (reboots). Every query is bounded by device, time or limit.
 */
import type { Queryable } from "../db/driver.ts";
import type { ProcessSample, ServiceSample } from "../messages.ts";

export interface ServiceRow {
  name: string;
  display_name: string;
  state: string;
  start_mode: string;
}

export interface DeviceServices {
  device_id: number;
  monitor_id: number | null;
  collected_at: Date | null;
  services: ServiceRow[];
}

export async function deviceServices(
  db: Queryable,
  deviceId: number,
  filter: { state?: string; start_mode?: string; name?: string },
): Promise<DeviceServices> {
  const [row] = await db.query<
    { monitor_id: number; services_at: Date; services: ServiceSample[] }
  >(
    `SELECT s.monitor_id, s.services_at, s.services FROM monitor_windows_state s
     JOIN monitors m ON m.id = s.monitor_id
     WHERE m.device_id = $1 AND s.services IS NOT NULL
     ORDER BY s.services_at DESC LIMIT 1`,
    [deviceId],
  );
  const eq = (a: string, b?: string) => b === undefined || a.toLowerCase() === b.toLowerCase();
  const name = filter.name?.toLowerCase();
  const services = (row?.services ?? [])
    .filter((s) => eq(s.state, filter.state) && eq(s.startMode, filter.start_mode))
    .filter((s) =>
      !name || s.name.toLowerCase().includes(name) || s.displayName.toLowerCase().includes(name)
    )
    .map((s) => ({
      name: s.name,
      display_name: s.displayName,
      state: s.state,
      start_mode: s.startMode,
    }));
  return {
    device_id: deviceId,
    monitor_id: row?.monitor_id ?? null,
    collected_at: row?.services_at ?? null,
    services,
  };
}

export interface ProcessRow {
  name: string;
  pid: number;
  cpu_percent: number | null;
  memory_bytes: number;
  threads: number;
  handles: number;
}

export interface DeviceProcesses {
  device_id: number;
  monitor_id: number | null;
  collected_at: Date | null;
  processes: ProcessRow[];
}

/** The newest list within the last `withinMs` (a day by default), sorted as asked. */
export async function deviceProcesses(
  db: Queryable,
  deviceId: number,
  opts: { sort: "cpu" | "memory"; name?: string; withinMs?: number; now?: number },
): Promise<DeviceProcesses> {
  const since = new Date((opts.now ?? Date.now()) - (opts.withinMs ?? 86_400_000));
  const [row] = await db.query<{ monitor_id: number; ts: Date; processes: ProcessSample[] }>(
    `SELECT p.monitor_id, p.ts, p.processes FROM process_samples p
     WHERE p.monitor_id IN (SELECT id FROM monitors WHERE device_id = $1) AND p.ts >= $2
     ORDER BY p.ts DESC LIMIT 1`,
    [deviceId, since],
  );
  const name = opts.name?.toLowerCase();
  const processes = (row?.processes ?? [])
    .filter((p) => !name || p.name.toLowerCase().includes(name))
    .map((p) => ({
      name: p.name,
      pid: p.pid,
      cpu_percent: p.cpuPercent,
      memory_bytes: p.memory,
      threads: p.threads,
      handles: p.handles,
    }))
    .sort((a, b) =>
      opts.sort === "memory"
        ? b.memory_bytes - a.memory_bytes
        : (b.cpu_percent ?? -1) - (a.cpu_percent ?? -1) || b.memory_bytes - a.memory_bytes
    );
  return {
    device_id: deviceId,
    monitor_id: row?.monitor_id ?? null,
    collected_at: row?.ts ?? null,
    processes,
  };
}

export interface EventRow {
  ts: Date;
  log: string;
  record_number: number;
  source: string;
  event_id: number;
  level: string;
  message: string | null;
  monitor_id: number;
}

export interface EventFilter {
  from: Date;
  to: Date;
  level?: string;
  source?: string;
  event_id?: number;
  log?: string;
  limit: number;
  offset: number;
}

/** Newest first in [from, to); `total` counts every match (for paging and for rules). */
export async function deviceEventLog(
  db: Queryable,
  deviceId: number,
  f: EventFilter,
): Promise<{ items: EventRow[]; total: number }> {
  const where = [
    "e.monitor_id IN (SELECT id FROM monitors WHERE device_id = $1)",
    "e.ts >= $2",
    "e.ts < $3",
  ];
  const params: unknown[] = [deviceId, f.from, f.to];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (f.level) add("e.level = ?", f.level);
  if (f.source) add("lower(e.source) = lower(?)", f.source);
  if (f.event_id !== undefined) add("e.event_id = ?", f.event_id);
  if (f.log) add("lower(e.log) = lower(?)", f.log);
  const cond = where.join(" AND ");
  const [{ total }] = await db.query<{ total: number }>(
    `SELECT count(*)::int AS total FROM event_log_entries e WHERE ${cond}`,
    params,
  );
  const items = await db.query<EventRow>(
    `SELECT e.ts, e.log, e.record_number::float8 AS record_number, e.source, e.event_id,
       e.level, e.message, e.monitor_id
     FROM event_log_entries e WHERE ${cond}
     ORDER BY e.ts DESC, e.record_number DESC
     LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, f.limit, f.offset],
  );
  return { items, total };
}

export interface DeviceEventRow {
  id: number;
  ts: Date;
  kind: string;
  message: string;
  monitor_id: number | null;
  details: Record<string, unknown> | null;
}

export async function deviceEvents(
  db: Queryable,
  deviceId: number,
  opts: { kind?: string; limit: number },
): Promise<DeviceEventRow[]> {
  return await db.query<DeviceEventRow>(
    `SELECT id::float8 AS id, ts, kind, message, monitor_id, details FROM device_events
     WHERE device_id = $1 AND ($2::text IS NULL OR kind = $2)
     ORDER BY ts DESC LIMIT $3`,
    [deviceId, opts.kind ?? null, opts.limit],
  );
}
