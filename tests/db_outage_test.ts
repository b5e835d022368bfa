/**
 * A PostgreSQL outage makes every statement fail promptly (DatabaseUnavailableError or a
 * connection error the API maps to 503), never hang: postgres.js alone strands some statements
 * forever when the server ends its connections and refuses new ones.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { backends, createScratchDatabase } from "./helpers/databases.ts";
import { isDatabaseUnavailable, openDatabase, STRANDED_CHECK_MS } from "../lib/db/driver.ts";
import postgres from "postgres";

if (backends().includes("postgres")) {
  Deno.test({
    name: "database outage: every statement fails as unavailable, none hangs (postgres)",
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const scratch = await createScratchDatabase();
      const db = await openDatabase({ url: scratch.url, dataDir: "", maxConnections: 10 });
      const name = new URL(scratch.url).pathname.slice(1);
      const admin = postgres(Deno.env.get("TEST_DATABASE_URL")!, { max: 1, onnotice: () => {} });
      try {
        // Every pooled connection open, then the database goes away under them.
        await Promise.all(Array.from({ length: 10 }, () => db.query("SELECT pg_sleep(0.05)")));
        await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
        await admin.unsafe(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`,
        );
        const outcomes: string[] = [];
        for (let i = 0; i < 24; i++) {
          const statement = i % 3 === 0
            ? db.transaction((tx) => tx.query("SELECT 1"))
            : db.query("SELECT 1");
          const outcome = await Promise.race([
            statement.then(
              () => "answered",
              (e) => isDatabaseUnavailable(e) ? "unavailable" : `other: ${e}`,
            ),
            new Promise<string>((r) => setTimeout(() => r("hung"), STRANDED_CHECK_MS * 3)),
          ]);
          outcomes.push(outcome);
        }
        assertEquals(outcomes.filter((o) => o !== "unavailable"), [], outcomes.join(", "));
        await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
        const [row] = await db.query<{ n: number }>("SELECT 1 AS n");
        assert(row.n === 1, "the pool recovers when the database is back");
      } finally {
        await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
        await admin.end();
        await Promise.race([db.close(), new Promise((r) => setTimeout(r, 5_000))]);
        await scratch.drop();
      }
    },
  });
}
