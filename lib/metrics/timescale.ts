/**
 * Metrics retention from configuration. With TimescaleDB it is a pair of retention policies
 * (raw `metrics` and the `metrics_hourly` rollup, see migration 0004) that the extension's
 * scheduler runs; without it, expired native partitions are dropped here. Called at start and
 * hourly, so a changed NMSLITE_METRICS_RETENTION_DAYS takes effect at the next start; policies
 * are only rewritten when they differ, so the hourly call leaves the jobs' schedules alone.
 */
import type { Database, Queryable } from "../db/driver.ts";
import { dropExpiredPartitions, isHypertable } from "./partitions.ts";

/**
 * Hourly rollups are kept this many times longer than raw rows: at 60 s polling they are 1/60
 * of the volume, and they are what long-range charts read (a year at the 90-day default).
 */
export const HOURLY_RETENTION_FACTOR = 4;
/** How far back the rollup's refresh policy recomputes (migration 0004's start_offset). */
export const REFRESH_START_DAYS = 3;

export interface RetentionResult {
  /** native partitions dropped (without TimescaleDB) */
  dropped: string[];
  /** TimescaleDB policies written by this call: "metrics", "metrics_hourly", "refresh" */
  changed: string[];
}

/** Applies `retentionDays` (0 keeps everything) to whichever metrics store this database has. */
export async function applyRetention(
  db: Database,
  retentionDays: number,
  now = new Date(),
): Promise<RetentionResult> {
  if (!(await isHypertable(db))) {
    return { dropped: await dropExpiredPartitions(db, retentionDays, now), changed: [] };
  }
  const days = Math.max(0, Math.floor(retentionDays));
  return await db.transaction(async (tx) => {
    const changed: string[] = [];
    if (await setRetentionPolicy(tx, "metrics", days)) changed.push("metrics");
    if (await hasHourly(tx)) {
      if (await setRetentionPolicy(tx, "metrics_hourly", days * HOURLY_RETENTION_FACTOR)) {
        changed.push("metrics_hourly");
      }
      // A refresh recomputes its window from raw rows: reaching past the raw retention would
      // empty buckets whose rows were dropped, so the window never starts before it.
      const start = days > 0 ? Math.min(REFRESH_START_DAYS, days) : REFRESH_START_DAYS;
      if (await setRefreshStart(tx, start)) changed.push("refresh");
    }
    return { dropped: [], changed };
  });
}

/** Makes `relation`'s retention policy drop after `days` (none for 0); true if it changed. */
async function setRetentionPolicy(tx: Queryable, relation: string, days: number) {
  const jobs = await tx.query<{ same: boolean }>(
    `SELECT (config->>'drop_after')::interval = make_interval(days => $2) AS same
     FROM timescaledb_information.jobs
     WHERE proc_name = 'policy_retention' AND hypertable_name = $1`,
    [relation, days],
  );
  if (days > 0 ? jobs.length === 1 && jobs[0].same : jobs.length === 0) return false;
  await tx.query("SELECT remove_retention_policy($1::regclass, if_exists => true)", [relation]);
  if (days > 0) {
    await tx.query("SELECT add_retention_policy($1::regclass, make_interval(days => $2))", [
      relation,
      days,
    ]);
  }
  return true;
}

/** Sets the start_offset of metrics_hourly's refresh policy; true if it changed. */
async function setRefreshStart(tx: Queryable, days: number) {
  const jobs = await tx.query<{ same: boolean }>(
    `SELECT (config->>'start_offset')::interval = make_interval(days => $1) AS same
     FROM timescaledb_information.jobs
     WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = 'metrics_hourly'`,
    [days],
  );
  if (jobs.length === 1 && jobs[0].same) return false;
  await tx.query(
    "SELECT remove_continuous_aggregate_policy('metrics_hourly', if_exists => true)",
  );
  // end_offset and schedule as in migration 0004
  await tx.query(
    `SELECT add_continuous_aggregate_policy('metrics_hourly',
       start_offset => make_interval(days => $1),
       end_offset => INTERVAL '1 hour',
       schedule_interval => INTERVAL '1 hour')`,
    [days],
  );
  return true;
}

async function hasHourly(tx: Queryable): Promise<boolean> {
  const rows = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM timescaledb_information.continuous_aggregates
     WHERE view_name = 'metrics_hourly'`,
  );
  return rows[0].n > 0;
}
