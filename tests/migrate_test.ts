import { assert, assertEquals } from "./helpers/assert.ts";
import { backends, createScratchDatabase, migratedTest } from "./helpers/databases.ts";
import { openDatabase } from "../lib/db/driver.ts";
import { loadMigrations, migrate } from "../lib/db/migrate.ts";
import {
  dropExpiredPartitions,
  ensurePartitions,
  partitionName,
} from "../lib/metrics/partitions.ts";

// Only PostgreSQL has separate processes; PGlite is one connection in one process.
if (backends().includes("postgres")) {
  Deno.test({
    name: "migrations: two processes starting at once apply each migration once (postgres)",
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const scratch = await createScratchDatabase();
      const a = await openDatabase({ url: scratch.url, dataDir: "" });
      const b = await openDatabase({ url: scratch.url, dataDir: "" });
      try {
        const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
        const all = (await loadMigrations()).map((m) => m.version);
        assertEquals([...ra, ...rb].sort((x, y) => x - y), all);
        assert(ra.length === 0 || rb.length === 0, "one of them found nothing to do");
        const rows = await a.query<{ version: number }>(
          "SELECT version FROM schema_migrations ORDER BY 1",
        );
        assertEquals(rows.map((r) => r.version), all);
        assertEquals(await migrate(a), []);
      } finally {
        await a.close();
        await b.close();
        await scratch.drop();
      }
    },
  });
}

migratedTest(
  "metrics partitions: created ahead, late rows kept, expired dropped",
  async (db) => {
    const kind = await db.query<{ relkind: string }>(
      "SELECT relkind FROM pg_class WHERE relname = 'metrics'",
    );
    assertEquals(kind[0].relkind, "p", "metrics is natively partitioned (no timescaledb here)");
    await db.query("INSERT INTO devices (ip) VALUES ('10.1.1.1')");
    const [{ id: deviceId }] = await db.query<{ id: number }>("SELECT id FROM devices");
    const [{ id: pluginId }] = await db.query<{ id: number }>("SELECT id FROM plugins");
    await db.query(
      `INSERT INTO credential_profiles (name, type, username, password_enc, port)
       VALUES ('c', 'winrm_ntlm', 'u', 'v1:x:y', 5985)`,
    );
    const [{ id: credId }] = await db.query<{ id: number }>(
      "SELECT id FROM credential_profiles",
    );
    const [{ id: monitorId }] = await db.query<{ id: number }>(
      `INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval)
       VALUES ($1, $2, $3, 60) RETURNING id`,
      [deviceId, credId, pluginId],
    );
    const now = new Date("2030-03-10T12:00:00Z");
    // a row arriving before its partition exists lands in the default partition…
    await db.query("INSERT INTO metrics (monitor_id, ts, cpu_percent) VALUES ($1, $2, 1)", [
      monitorId,
      new Date("2030-03-11T08:00:00Z"),
    ]);
    const created = await ensurePartitions(db, now);
    assertEquals(created.length, 9);
    assertEquals(created[0], partitionName(new Date("2030-03-09T00:00:00Z")));
    // …and is moved into it when the partition is made, not lost
    const moved = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${partitionName(new Date("2030-03-11T00:00:00Z"))}`,
    );
    assertEquals(moved[0].n, 1);
    assertEquals((await ensurePartitions(db, now)).length, 0, "idempotent");
    const dropped = await dropExpiredPartitions(db, 1, new Date("2030-03-12T01:00:00Z"));
    assertEquals(dropped.sort(), [
      partitionName(new Date("2030-03-09T00:00:00Z")),
      partitionName(new Date("2030-03-10T00:00:00Z")),
    ]);
    const total = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM metrics");
    assertEquals(total[0].n, 1);
    assertEquals(await dropExpiredPartitions(db, 0, new Date("2031-01-01")), [], "0 keeps all");
  },
);
