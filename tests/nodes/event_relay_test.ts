/**
 * Two central processes' event relays on one PostgreSQL. A change made on one reaches the
 * other; when PostgreSQL drops the listening connections (a restart, a failover, an idle
 * timeout in a pooler), postgres.js listens again and each process emits one `resync` (it is
 * not published to the others) — and the ingest's memory of monitor sites, which a missed
 * event would leave stale for up to ten minutes, starts afresh: a monitor moved to a device of
 * another site while no event could travel is refused from the old site's node.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { createScratchDatabase } from "../helpers/databases.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { eventually } from "../helpers/distributed.ts";
import { sample } from "../alerting/helpers.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { openDatabase } from "../../lib/db/driver.ts";
import { openNotifier } from "../../lib/db/notify.ts";
import { type EntityEvent, EntityEvents } from "../../lib/entity_events.ts";
import { EventRelay } from "../../lib/nodes/event_relay.ts";
import { IngestService } from "../../lib/nodes/ingest.ts";
import { MetricsWriter } from "../../lib/metrics/writer.ts";
import { ServiceError } from "../../lib/services/errors.ts";
import type { ResultBatch } from "../../lib/messages.ts";

function batch(monitorId: number, ts: number): ResultBatch {
  return { v: 1, batchId: crypto.randomUUID(), samples: [sample(monitorId, ts)], outcomes: [] };
}

Deno.test({
  name: "event relay: changes cross processes, and a broken LISTEN connection resyncs caches",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const scratch = await createScratchDatabase();
    const dir = await Deno.makeTempDir();
    const db = await openDatabase({ url: scratch.url, dataDir: dir });
    const events = [new EntityEvents(), new EntityEvents()];
    const seen: EntityEvent[][] = [[], []];
    events.forEach((e, i) => e.subscribe((event) => seen[i].push(event)));
    const relays = events.map((e) => new EventRelay(e, openNotifier(scratch.url)));
    const writer = new MetricsWriter(db, {});
    try {
      await migrate(db);
      const [monitor] = await seedMonitors(db, 1);
      const [siteA] = await db.query<{ id: number }>(
        "INSERT INTO sites (name) VALUES ('a') RETURNING id",
      );
      const [siteB] = await db.query<{ id: number }>(
        "INSERT INTO sites (name) VALUES ('b') RETURNING id",
      );
      await db.query(
        "UPDATE devices SET site_id = $1 WHERE id = (SELECT device_id FROM monitors WHERE id = $2)",
        [siteA.id, monitor],
      );
      const [other] = await db.query<{ id: number }>(
        "INSERT INTO devices (ip, site_id) VALUES ('127.0.91.1', $1) RETURNING id",
        [siteB.id],
      );
      for (const r of relays) await r.start();
      // process B's ingest, fed by B's events
      const ingest = new IngestService(
        db,
        () => writer,
        { maxRows: 1_000, maxFutureMs: 60_000 },
        events[1],
      );
      const nodeA = { id: 1, site_id: siteA.id, name: "a1", status: "enrolled" as const };

      // a change on A reaches B, once
      events[0].emit({ entity: "plugin", id: 7, action: "updated" });
      await eventually("B hears A's change", () => Promise.resolve(seen[1].length === 1));
      assertEquals(seen[1][0], { entity: "plugin", id: 7, action: "updated" });

      // B's ingest remembers the monitor's site
      const t0 = Date.now() - 60_000;
      assertEquals((await ingest.ingest(nodeA, [batch(monitor, t0)])).rows, 1);

      // the monitor moves to site B's device while no event can travel
      await db.query("UPDATE monitors SET device_id = $1 WHERE id = $2", [other.id, monitor]);
      // without an event, the remembered site still lets site A's node write for it
      assertEquals((await ingest.ingest(nodeA, [batch(monitor, t0 + 1_000)])).rows, 1);

      // PostgreSQL drops both listening connections
      const before = seen.map((s) => s.length);
      const [killed] = await db.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE application_name = 'nmslite-notify' AND datname = current_database()
           AND query ILIKE 'listen%'`,
      );
      assertEquals(killed.n, 2, "both processes' LISTEN connections");
      const resync = (i: number) =>
        seen[i].slice(before[i]).filter((e) => e.entity === "all").length;
      await eventually(
        "both processes resync",
        () => Promise.resolve(resync(0) === 1 && resync(1) === 1),
      );

      // the resync forgot the remembered site: the moved monitor is refused from site A
      const err = await assertRejects(
        () => ingest.ingest(nodeA, [batch(monitor, t0 + 2_000)]),
        ServiceError,
      );
      assertEquals((err as ServiceError).code, "MONITOR_NOT_OF_SITE");

      // events flow again after the reconnect, and a resync is never published
      events[0].emit({ entity: "monitor", id: monitor, action: "updated" });
      await eventually(
        "B hears A's change after the break",
        () => Promise.resolve(seen[1].some((e) => e.entity === "monitor")),
      );
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(resync(0), 1, "A's resync stays on A");
      assertEquals(resync(1), 1, "B's resync stays on B");
      const [rows] = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM metrics WHERE monitor_id = $1",
        [monitor],
      );
      assert(rows.n === 2, `two rows written, got ${rows.n}`);
    } finally {
      writer.stop();
      for (const r of relays) await r.stop();
      await db.close();
      await scratch.drop();
    }
  },
});
