/**
 * The part of autovacuum the embedded database needs: PGlite runs PostgreSQL as a single
 * process, with no autovacuum launcher, so a table's statistics are whatever its last ANALYZE
 * left: none at all for a table filled after `CREATE TABLE`. The planner then guesses sizes from
 * column widths, and a page of 50 devices out of 500 was read by sorting the whole table
 * instead of walking its primary key (EXPLAIN: 3.8 ms against 1.3 once analyzed).
 *
 * PGlite does not publish the activity counters autovacuum decides by (`n_mod_since_analyze`
 * stays 0), so a table counts as stale by its size on disk against the size its last ANALYZE
 * saw: never analyzed and not empty, or grown or shrunk by more than a fifth (and 4 pages).
 * Updates that keep a table's size (monitors' `last_polled`) do not change what the planner
 * needs from it.
 */

/** What the upkeep needs of a database (driver.ts's Queryable has it; driver.ts imports this). */
export interface Analyzable {
  query<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
}

export const ANALYZE_EVERY_MS = 60_000;

/** Tables (qualified, quoted) whose statistics no longer describe them. */
export async function staleTables(db: Analyzable): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT name FROM (
       SELECT format('%I.%I', n.nspname, c.relname) AS name, c.reltuples, c.relpages,
              pg_relation_size(c.oid) / current_setting('block_size')::int AS pages
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relpersistence = 'p'
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')) t
      WHERE CASE WHEN reltuples < 0 THEN pages > 0 ELSE abs(pages - relpages) > 4 + 0.2 * relpages END
      ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

/** ANALYZEs the stale tables; returns their names. */
export async function analyzeStale(db: Analyzable): Promise<string[]> {
  const tables = await staleTables(db);
  if (tables.length) await db.exec(`ANALYZE ${tables.join(", ")}`);
  return tables;
}
