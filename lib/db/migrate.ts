/**
 * Applies `migrations/NNNN_name.sql` in order, each once, recorded in `schema_migrations`.
 * The whole run holds a transaction-scoped advisory lock, so two processes starting at once
 * apply each migration exactly once: the second waits, then finds nothing left to do.
 */
import type { Database } from "./driver.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_LOCK = 4_871_001; // arbitrary, constant: the key of NMSlite's advisory lock
const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url);

export class MigrationError extends Error {
  override name = "MigrationError";
}

export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const found: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = /^(\d{4})_([\w-]+)\.sql$/.exec(entry.name);
    if (!entry.isFile || !match) continue;
    found.push({
      version: Number(match[1]),
      name: match[2],
      sql: await Deno.readTextFile(new URL(entry.name, dir)),
    });
  }
  found.sort((a, b) => a.version - b.version);
  for (let i = 1; i < found.length; i++) {
    if (found[i].version === found[i - 1].version) {
      throw new MigrationError(`two migrations share version ${found[i].version}`);
    }
  }
  return found;
}

/** Returns the versions applied by this call (empty when the schema was current). */
export async function migrate(db: Database, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? await loadMigrations();
  return await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set(
      (await tx.query<{ version: number }>("SELECT version FROM schema_migrations"))
        .map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of all) {
      if (done.has(m.version)) continue;
      try {
        await tx.exec(m.sql);
      } catch (err) {
        throw new MigrationError(
          `migration ${m.version}_${m.name} failed: ${(err as Error).message}`,
        );
      }
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    return applied;
  });
}
