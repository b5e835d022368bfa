/**
 * The databases a test runs against: the embedded PGlite always, and a scratch database on
 * the PostgreSQL named by TEST_DATABASE_URL when it is set (created per use, dropped after).
 */
import postgres from "postgres";
import { type Database, openDatabase } from "../../lib/db/driver.ts";
import { migrate } from "../../lib/db/migrate.ts";

export type Backend = "pglite" | "postgres";

export function backends(): Backend[] {
  return Deno.env.get("TEST_DATABASE_URL") ? ["pglite", "postgres"] : ["pglite"];
}

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A database of its own on the server of `adminUrl` (default TEST_DATABASE_URL). */
export async function createScratchDatabase(
  prefix = "nmslite_test",
  adminUrl = Deno.env.get("TEST_DATABASE_URL"),
): Promise<ScratchDatabase> {
  if (!adminUrl) throw new Error("TEST_DATABASE_URL is not set");
  const name = `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/**
 * A fresh, empty database on `backend` for one test: a PGlite data directory, or a scratch
 * database on TEST_DATABASE_URL. `close()` closes it and removes it.
 */
export async function openTestDatabase(
  backend: Backend,
  opts: { maxConnections?: number } = {},
): Promise<{ db: Database; close(): Promise<void> }> {
  const scratch = backend === "postgres" ? await createScratchDatabase() : undefined;
  const dir = await Deno.makeTempDir();
  const db = await openDatabase({
    url: scratch?.url,
    dataDir: dir,
    maxConnections: opts.maxConnections,
  });
  return {
    db,
    async close() {
      await db.close();
      await scratch?.drop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A test per backend (`name (backend)`) on a fresh database with every migration applied. */
export function migratedTest(
  name: string,
  fn: (db: Database, backend: Backend) => Promise<void>,
): void {
  for (const backend of backends()) {
    Deno.test({
      name: `${name} (${backend})`,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const { db, close } = await openTestDatabase(backend);
        try {
          await migrate(db);
          await fn(db, backend);
        } finally {
          await close();
        }
      },
    });
  }
}

/**
 * A PostgreSQL-only test (skipped without TEST_DATABASE_URL) on a scratch database with one
 * connection, so every statement runs in the same session (prepared statements, plans).
 */
export function postgresSessionTest(name: string, fn: (db: Database) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !Deno.env.get("TEST_DATABASE_URL"),
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, close } = await openTestDatabase("postgres", { maxConnections: 1 });
      try {
        await fn(db);
      } finally {
        await close();
      }
    },
  });
}
