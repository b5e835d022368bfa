/**
 * Leases in PostgreSQL: a duty that must run once across central processes is done by the
 * process holding its lease. Taking one is a single upsert that succeeds only when the lease
 * is free, expired, or already ours; it needs no session state, so it works through a pool.
 */
import type { Queryable } from "./driver.ts";

export const leasesRepo = {
  /** True when `holder` now holds `name` until `ttlMs` from now. */
  async take(db: Queryable, name: string, holder: string, ttlMs: number): Promise<boolean> {
    const rows = await db.query(
      `INSERT INTO leases (name, holder, expires_at)
       VALUES ($1, $2, now() + make_interval(secs => $3::float8 / 1000))
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE leases.expires_at < now() OR leases.holder = EXCLUDED.holder
       RETURNING holder`,
      [name, holder, ttlMs],
    );
    return rows.length > 0;
  },
};
