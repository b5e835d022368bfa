/**
 * Migration 0005 (names unique regardless of case, one monitor per target) upgrades a database
 * holding data that breaks those rules: it does not fail, renames later duplicates, keeps the
 * enabled monitor of identical ones, and writes every change to the audit log.
 */
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { backends, openTestDatabase } from "./helpers/databases.ts";
import { loadMigrations, migrate } from "../lib/db/migrate.ts";

for (const backend of backends()) {
  Deno.test({
    name: `migration 0005 upgrades data with case duplicates and duplicate monitors (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, close } = await openTestDatabase(backend);
      try {
        const all = await loadMigrations();
        await migrate(db, all.filter((m) => m.version < 5));
        await db.exec(`
          INSERT INTO users (username, password_hash, role) VALUES
            ('admin', 'h', 'admin'), ('Admin', 'h', 'viewer'), ('ADMIN', 'h', 'viewer'),
            ('admin-2', 'h', 'viewer'), ('bob', 'h', 'viewer');
          INSERT INTO credential_profiles (name, type, username, password_enc, port) VALUES
            ('Lab', 'winrm_ntlm', 'u', 'v1:x:y', 5985), ('lab', 'winrm_ntlm', 'u', 'v1:x:y', 5985);
          INSERT INTO discovery_profiles (name, credential_profile_id, target, address_count)
            SELECT n, (SELECT min(id) FROM credential_profiles), '10.0.0.1', 1
            FROM (VALUES ('Office'), ('office')) v(n);
          INSERT INTO devices (ip) VALUES ('10.0.0.1'), ('10.0.0.2');
        `);
        const [{ id: cred }] = await db.query<{ id: number }>(
          "SELECT min(id) AS id FROM credential_profiles",
        );
        const [{ id: plugin }] = await db.query<{ id: number }>(
          "SELECT min(id) AS id FROM plugins",
        );
        const devices = (await db.query<{ id: number }>("SELECT id FROM devices ORDER BY id"))
          .map((d) => d.id);
        const monitor = async (device: number, enabled: boolean) =>
          (await db.query<{ id: number }>(
            `INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval,
               enabled) VALUES ($1, $2, $3, 60, $4) RETURNING id`,
            [device, cred, plugin, enabled],
          ))[0].id;
        const disabledFirst = await monitor(devices[0], false);
        const enabledSecond = await monitor(devices[0], true);
        const enabledThird = await monitor(devices[0], true);
        const alone = await monitor(devices[1], true);
        // Samples of the duplicates: two new timestamps and one the kept monitor also has.
        const sample = (monitorId: number, ts: string, cpu: number) =>
          db.query("INSERT INTO metrics (monitor_id, ts, cpu_percent) VALUES ($1, $2, $3)", [
            monitorId,
            ts,
            cpu,
          ]);
        await sample(enabledSecond, "2026-01-01T00:00:00Z", 10);
        await sample(disabledFirst, "2026-01-01T00:01:00Z", 20);
        await sample(enabledThird, "2026-01-01T00:02:00Z", 30);
        await sample(enabledThird, "2026-01-01T00:00:00Z", 99);

        assertEquals(
          await migrate(db, all),
          all.filter((m) => m.version >= 5).map((m) => m.version),
        );

        const users = await db.query<{ username: string }>(
          "SELECT username FROM users ORDER BY id",
        );
        // The oldest keeps its name; "admin-2" was taken, so the later ones get -3 and -4.
        assertEquals(users.map((u) => u.username), [
          "admin",
          "Admin-3",
          "ADMIN-4",
          "admin-2",
          "bob",
        ]);
        const creds = await db.query<{ name: string }>(
          "SELECT name FROM credential_profiles ORDER BY id",
        );
        assertEquals(creds.map((c) => c.name), ["Lab", "lab-2"]);
        const profiles = await db.query<{ name: string }>(
          "SELECT name FROM discovery_profiles ORDER BY id",
        );
        assertEquals(profiles.map((p) => p.name), ["Office", "office-2"]);
        const monitors = await db.query<{ id: number }>("SELECT id FROM monitors ORDER BY id");
        assertEquals(monitors.map((m) => m.id), [enabledSecond, alone]);
        assertEquals(disabledFirst < enabledSecond && enabledSecond < enabledThird, true);
        // The folded monitors' samples now belong to the one that stays; a clash keeps its own.
        const kept = await db.query<{ cpu: number }>(
          "SELECT cpu_percent AS cpu FROM metrics WHERE monitor_id = $1 ORDER BY ts",
          [enabledSecond],
        );
        assertEquals(kept.map((k) => k.cpu), [10, 20, 30]);

        const audit = await db.query<{ action: string; entity: string; details: unknown }>(
          "SELECT action, entity, details FROM audit_log ORDER BY id",
        );
        assertEquals(audit.filter((a) => a.action === "rename").length, 4);
        const deleted = audit.filter((a) => a.action === "delete" && a.entity === "monitor");
        assertEquals(deleted.length, 2);
        assertEquals(
          deleted.every((d) =>
            (d.details as { duplicate_of: number }).duplicate_of === enabledSecond
          ),
          true,
        );

        // From now on the database itself refuses what the API answers 409 for.
        await assertRejects(() =>
          db.query(
            "INSERT INTO users (username, password_hash, role) VALUES ('BOB', 'h', 'viewer')",
          )
        );
        await assertRejects(() => monitor(devices[1], false));
      } finally {
        await close();
      }
    },
  });
}
