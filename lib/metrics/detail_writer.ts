/**
 * The part of a commit that the extended and full collection profiles add, in the writer's
 * transaction: top-process lists and event log entries (bulk, idempotent on their keys, so a
 * redelivered batch adds nothing), the latest services and boot time per monitor, and a
 * `reboot` device event when LastBootUpTime moved on. A standard poll has none of these and
 * costs nothing here.
 */
import { pgJson } from "../db/pg_json.ts";
import type { Queryable } from "../db/driver.ts";
import type { MetricSample } from "../messages.ts";

/** LastBootUpTime may wobble by a second between polls; a real reboot moves it by more. */
export const REBOOT_MIN_SHIFT_MS = 60_000;

export async function writeDetail(tx: Queryable, samples: MetricSample[]): Promise<void> {
  const processes: unknown[] = [];
  const events: unknown[] = [];
  const state = new Map<number, { boots: number[]; services?: unknown; servicesAt?: number }>();
  for (const s of samples) {
    if (s.processes?.length) {
      processes.push({ monitor_id: s.monitorId, ts: iso(s.ts), processes: s.processes });
    }
    for (const e of s.events ?? []) {
      events.push({
        monitor_id: s.monitorId,
        ts: iso(e.ts),
        log: e.log,
        record_number: e.record,
        source: e.source,
        event_id: e.eventId,
        level: e.level,
        message: e.message,
      });
    }
    if (s.bootTime === undefined && s.services === undefined) continue;
    let st = state.get(s.monitorId);
    if (!st) state.set(s.monitorId, st = { boots: [] });
    if (s.bootTime !== undefined) st.boots.push(s.bootTime);
    if (s.services && (st.servicesAt === undefined || s.ts >= st.servicesAt)) {
      st.services = s.services;
      st.servicesAt = s.ts;
    }
  }
  if (processes.length) {
    await tx.query(
      `INSERT INTO process_samples (monitor_id, ts, processes)
       SELECT p.monitor_id, p.ts, p.processes
       FROM jsonb_to_recordset($1::text::jsonb) AS p(monitor_id int, ts timestamptz, processes jsonb)
       WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = p.monitor_id)
       ON CONFLICT DO NOTHING`,
      [pgJson(processes)],
    );
  }
  if (events.length) {
    await tx.query(
      `INSERT INTO event_log_entries
         (monitor_id, ts, log, record_number, source, event_id, level, message)
       SELECT e.monitor_id, e.ts, e.log, e.record_number, e.source, e.event_id, e.level, e.message
       FROM jsonb_to_recordset($1::text::jsonb) AS e(monitor_id int, ts timestamptz, log text,
         record_number bigint, source text, event_id int, level text, message text)
       WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = e.monitor_id)
       ON CONFLICT DO NOTHING`,
      [pgJson(events)],
    );
  }
  if (state.size) await writeState(tx, state);
}

async function writeState(
  tx: Queryable,
  state: Map<number, { boots: number[]; services?: unknown; servicesAt?: number }>,
): Promise<void> {
  const rows: unknown[] = [];
  const boots: unknown[] = [];
  for (const [monitorId, st] of state) {
    // distinct boots of this batch, oldest first, wobble folded
    const distinct: number[] = [];
    for (const b of st.boots.sort((x, y) => x - y)) {
      if (!distinct.length || b - distinct[distinct.length - 1] > REBOOT_MIN_SHIFT_MS) {
        distinct.push(b);
      }
    }
    for (const b of distinct) boots.push({ monitor_id: monitorId, boot_time: iso(b) });
    rows.push({
      monitor_id: monitorId,
      boot_time: distinct.length ? iso(distinct[distinct.length - 1]) : null,
      services: st.services ?? null,
      services_at: st.servicesAt !== undefined ? iso(st.servicesAt) : null,
    });
  }
  // Reboots first, against the boot time stored before this batch.
  if (boots.length) {
    await tx.query(
      `WITH b AS (
         SELECT x.monitor_id, x.boot_time,
           COALESCE(lag(x.boot_time) OVER (PARTITION BY x.monitor_id ORDER BY x.boot_time),
                    s.boot_time) AS before
         FROM jsonb_to_recordset($1::text::jsonb) AS x(monitor_id int, boot_time timestamptz)
         LEFT JOIN monitor_windows_state s ON s.monitor_id = x.monitor_id
       )
       INSERT INTO device_events (device_id, monitor_id, ts, kind, message, details)
       SELECT m.device_id, b.monitor_id, b.boot_time, 'reboot',
         'rebooted at ' || to_char(b.boot_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') ||
           ' UTC, previous boot ' || to_char(b.before AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC',
         jsonb_build_object('previous_boot', b.before, 'boot_time', b.boot_time)
       FROM b JOIN monitors m ON m.id = b.monitor_id
       WHERE b.before IS NOT NULL
         AND b.boot_time > b.before + make_interval(secs => $2::int / 1000.0)
       ON CONFLICT (device_id, kind, ts) DO NOTHING`,
      [pgJson(boots), REBOOT_MIN_SHIFT_MS],
    );
  }
  await tx.query(
    `INSERT INTO monitor_windows_state (monitor_id, boot_time, services, services_at, updated_at)
     SELECT r.monitor_id, r.boot_time, r.services, r.services_at, now()
     FROM jsonb_to_recordset($1::text::jsonb)
       AS r(monitor_id int, boot_time timestamptz, services jsonb, services_at timestamptz)
     WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = r.monitor_id)
     ON CONFLICT (monitor_id) DO UPDATE SET
       boot_time = GREATEST(monitor_windows_state.boot_time, EXCLUDED.boot_time),
       services = CASE WHEN EXCLUDED.services_at IS NOT NULL AND (monitor_windows_state.services_at
           IS NULL OR EXCLUDED.services_at >= monitor_windows_state.services_at)
         THEN EXCLUDED.services ELSE monitor_windows_state.services END,
       services_at = GREATEST(monitor_windows_state.services_at, EXCLUDED.services_at),
       updated_at = now()`,
    [pgJson(rows)],
  );
}

const iso = (ms: number) => new Date(ms).toISOString();
