/**
 * What a fleet run adds to the database (PostgreSQL only: the embedded PGlite lives inside the
 * NMSlite process): rows and bytes (tables with their indexes and TOAST, all partitions) of
 * the metrics store and of what the extended and full collection profiles add.
 */
import postgres from "postgres";

export const STORAGE_TABLES = [
  "metrics",
  "process_samples",
  "event_log_entries",
  "monitor_windows_state",
  "device_events",
] as const;
export type StorageTable = typeof STORAGE_TABLES[number];
export type StorageSnapshot = Record<StorageTable, { rows: number; bytes: number }>;

export async function storageSnapshot(databaseUrl: string): Promise<StorageSnapshot> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const out = {} as StorageSnapshot;
    for (const t of STORAGE_TABLES) {
      // a partitioned table's size is its partitions' (pg_partition_tree lists them and itself)
      const [r] = await sql.unsafe(
        `SELECT (SELECT count(*) FROM ${t})::float8 AS rows,
           (SELECT coalesce(sum(pg_total_relation_size(relid)), 0)
              FROM pg_partition_tree('${t}'::regclass))::float8 AS bytes`,
      );
      out[t] = { rows: Number(r.rows), bytes: Number(r.bytes) };
    }
    return out;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Per successful poll, and per host and day at one poll a minute. */
export function storageGrowth(start: StorageSnapshot, end: StorageSnapshot, okPolls: number) {
  const lines = ["table                    rows/poll   bytes/poll   MB/host/day (60 s)"];
  let total = 0;
  for (const t of STORAGE_TABLES) {
    const rows = (end[t].rows - start[t].rows) / okPolls;
    const bytes = (end[t].bytes - start[t].bytes) / okPolls;
    total += bytes;
    lines.push(
      `${t.padEnd(22)} ${rows.toFixed(3).padStart(11)} ${bytes.toFixed(0).padStart(12)} ${
        (bytes * 1440 / 1e6).toFixed(2).padStart(15)
      }`,
    );
  }
  lines.push(
    `${"total".padEnd(22)} ${"".padStart(11)} ${total.toFixed(0).padStart(12)} ${
      (total * 1440 / 1e6).toFixed(2).padStart(15)
    }`,
  );
  return lines.join("\n");
}
