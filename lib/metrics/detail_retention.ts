/**
 * Retention of what the extended and full collection profiles store beside `metrics`: process
 * lists and event log entries live in daily partitions of their own (natively, also with
 * TimescaleDB) so they can be kept shorter than metrics; device events are few and deleted by
 * age with the event log's retention.
 */
import type { Database } from "../db/driver.ts";
import { dropExpiredTablePartitions, ensureTablePartitions } from "./partitions.ts";

export const DETAIL_TABLES = ["process_samples", "event_log_entries"] as const;

export interface DetailRetention {
  process_retention_days: number;
  event_retention_days: number;
}

export async function ensureDetailPartitions(db: Database, now = new Date()): Promise<string[]> {
  const created: string[] = [];
  for (const t of DETAIL_TABLES) created.push(...await ensureTablePartitions(db, t, now));
  return created;
}

/** Drops expired partitions and device events; returns the partitions dropped. */
export async function applyDetailRetention(
  db: Database,
  r: DetailRetention,
  now = new Date(),
): Promise<string[]> {
  const dropped = [
    ...await dropExpiredTablePartitions(db, "process_samples", r.process_retention_days, now),
    ...await dropExpiredTablePartitions(db, "event_log_entries", r.event_retention_days, now),
  ];
  if (r.event_retention_days > 0) {
    await db.query("DELETE FROM device_events WHERE ts < $1", [
      new Date(now.getTime() - r.event_retention_days * 86_400_000),
    ]);
  }
  return dropped;
}
