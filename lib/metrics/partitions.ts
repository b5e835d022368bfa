/**
 * Native partitions of `metrics` (when TimescaleDB is absent): one per UTC day, created a week
 * ahead and dropped once wholly past retention. With TimescaleDB the extension does this.
 */
import type { Database, Queryable } from "../db/driver.ts";

const DAY_MS = 86_400_000;
export const DAYS_AHEAD = 7;

/**
 * Whether `metrics` is a TimescaleDB hypertable. The extension alone is not enough: installed
 * after 0002 ran, it leaves metrics natively partitioned (relkind 'p'), still ours to manage.
 */
export async function isHypertable(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ hyper: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
        AND EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('metrics') AND relkind = 'r')
        AS hyper`,
  );
  return rows[0].hyper;
}

export function partitionName(day: Date, table = "metrics"): string {
  return `${table}_p${day.toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/** Creates missing daily partitions from yesterday to DAYS_AHEAD; returns the names created. */
export async function ensurePartitions(db: Database, now = new Date()): Promise<string[]> {
  if (await isHypertable(db)) return [];
  return await ensureTablePartitions(db, "metrics", now);
}

/** The same for any table partitioned by day on `ts` with a `<table>_default` partition. */
export async function ensureTablePartitions(
  db: Database,
  table: string,
  now = new Date(),
): Promise<string[]> {
  const existing = new Set(await listPartitions(db, table));
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  const created: string[] = [];
  for (let d = -1; d <= DAYS_AHEAD; d++) {
    const from = new Date(today + d * DAY_MS);
    const to = new Date(from.getTime() + DAY_MS);
    const name = partitionName(from, table);
    if (existing.has(name)) continue;
    await db.transaction(async (tx) => {
      // Rows that landed in the default partition for this day move into the new one, since
      // PostgreSQL refuses to attach a range the default partition already holds rows for.
      await tx.query(
        `CREATE TABLE ${name} (LIKE ${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
      );
      await tx.query(
        `WITH moved AS (DELETE FROM ${table}_default WHERE ts >= $1 AND ts < $2 RETURNING *)
         INSERT INTO ${name} SELECT * FROM moved`,
        [from, to],
      );
      await tx.query(
        `ALTER TABLE ${table} ATTACH PARTITION ${name} FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`,
      );
    });
    created.push(name);
  }
  return created;
}

/** Drops partitions whose whole day is older than the retention; 0 keeps everything. */
export async function dropExpiredPartitions(
  db: Database,
  retentionDays: number,
  now = new Date(),
): Promise<string[]> {
  if (retentionDays <= 0 || await isHypertable(db)) return [];
  return await dropExpiredTablePartitions(db, "metrics", retentionDays, now);
}

/** The same for any table partitioned like `metrics`. */
export async function dropExpiredTablePartitions(
  db: Database,
  table: string,
  retentionDays: number,
  now = new Date(),
): Promise<string[]> {
  if (retentionDays <= 0) return [];
  const cutoff = Math.floor(now.getTime() / DAY_MS) * DAY_MS - retentionDays * DAY_MS;
  const dropped: string[] = [];
  const pattern = new RegExp(`^${table}_p(\\d{4})(\\d{2})(\\d{2})$`);
  for (const name of await listPartitions(db, table)) {
    const m = pattern.exec(name);
    if (!m) continue;
    const dayEnd = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + DAY_MS;
    if (dayEnd <= cutoff) {
      await db.exec(`DROP TABLE ${name}`);
      dropped.push(name);
    }
  }
  return dropped;
}

async function listPartitions(db: Database, table: string): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i
     JOIN pg_class c ON c.oid = i.inhrelid
     JOIN pg_class p ON p.oid = i.inhparent
     WHERE p.relname = $1 AND c.relname LIKE $1 || '_p%'`,
    [table],
  );
  return rows.map((r) => r.name);
}
