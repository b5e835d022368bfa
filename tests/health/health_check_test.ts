/**
 * /health as a load balancer calls it (twice a second per backend in docs/deploy.md): the
 * database is asked on every call, calls that arrive together share one `SELECT 1`, and the
 * slower figures (alerting's outbox and problems: two statements) are read at most once per
 * TTL. A database that does not answer makes the report degraded without alerting figures.
 * Real databases (both backends) and a real alerting runtime; statements are counted on the
 * way to the database.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { migratedTest, openTestDatabase } from "../helpers/databases.ts";
import { healthCheck } from "../../lib/health_check.ts";
import { AlertingRuntime, DEFAULT_ALERTING_OPTIONS } from "../../lib/alerting/runtime.ts";
import { Keyring } from "../../lib/crypto/secrets.ts";
import { EntityEvents } from "../../lib/entity_events.ts";
import type { Database } from "../../lib/db/driver.ts";
import { testSenders } from "../alerting/helpers.ts";

migratedTest("health: the database on every call, alerting's figures once per TTL", async (db) => {
  const statements: string[] = [];
  const counted: Database = {
    ...db,
    query: (text, params) => {
      statements.push(text);
      return db.query(text, params);
    },
  };
  const alerting = new AlertingRuntime({
    db: counted,
    keyring: await Keyring.create(new Uint8Array(32)),
    events: new EntityEvents(),
    senders: testSenders,
  }, DEFAULT_ALERTING_OPTIONS);
  const ttlMs = 400;
  const health = healthCheck({ db: counted, version: "t", startedAt: new Date(), alerting }, ttlMs);

  const first = await health();
  assertEquals(first.status, "ok");
  assertEquals(first.database.reachable, true);
  assertEquals(first.alerting, { outbox_depth: 0, dead_letters: 0, open_problems: 0 });
  const perRead = statements.length;
  assertEquals(statements.filter((s) => s === "SELECT 1").length, 1);
  assert(perRead >= 3, `SELECT 1 and alerting's statements: ${perRead}`);

  // three calls at once: one SELECT 1 between them, the figures from the first read
  const together = await Promise.all([health(), health(), health()]);
  assertEquals(statements.slice(perRead), ["SELECT 1"]);
  for (const r of together) assertEquals(r.alerting, first.alerting);

  // past the TTL the figures are read again
  await new Promise((r) => setTimeout(r, ttlMs + 50));
  const before = statements.length;
  await health();
  assertEquals(statements.length - before, perRead, "SELECT 1 and the figures again");
});

migratedTest(
  "health: a database that does not answer degrades the report",
  async (_db, backend) => {
    const { db: other, close } = await openTestDatabase(backend);
    await close();
    const health = healthCheck({ db: other, version: "t", startedAt: new Date() });
    const report = await health();
    assertEquals(report.status, "degraded");
    assertEquals(report.database, { reachable: false, kind: other.kind, latency_ms: null });
    assertEquals(report.alerting, undefined);
  },
);
