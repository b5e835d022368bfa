/** What extended and full polls store: bulk, idempotent, reboots once, shorter retention. */
import { assert, assertEquals } from "../helpers/assert.ts";
import { migratedTest } from "../helpers/databases.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { depthSample } from "../helpers/depth_sample.ts";
import { ensurePartitions } from "../../lib/metrics/partitions.ts";
import {
  applyDetailRetention,
  ensureDetailPartitions,
} from "../../lib/metrics/detail_retention.ts";
import { MetricsWriter } from "../../lib/metrics/writer.ts";
import { pgJson } from "../../lib/db/pg_json.ts";
import {
  deviceEventLog,
  deviceEvents,
  deviceProcesses,
  deviceServices,
} from "../../lib/metrics/depth_reader.ts";
import { history, latestSample } from "../../lib/metrics/reader.ts";
import type { MetricSample } from "../../lib/messages.ts";

const DAY = 86_400_000;

migratedTest(
  "extended/full storage: bulk, idempotent, reboot once, retention",
  async (db) => {
    await ensurePartitions(db);
    await ensureDetailPartitions(db);
    const [m1, m2] = await seedMonitors(db, 2);
    const [{ device_id: dev1 }] = await db.query<{ device_id: number }>(
      "SELECT device_id FROM monitors WHERE id = $1",
      [m1],
    );
    const writer = new MetricsWriter(db);
    const t0 = Date.now() - 10 * 60_000;
    const boot = t0 - 3_600_000;
    const write = (samples: MetricSample[]) =>
      writer.write({ v: 1, batchId: crypto.randomUUID(), samples, outcomes: [] });

    // Two polls, the second 1 s of LastBootUpTime wobble later: no reboot
    await write([
      depthSample(m1, t0, { bootTime: boot }),
      depthSample(m1, t0 + 60_000, { bootTime: boot + 1_000, services: undefined }),
      depthSample(m2, t0), // a standard-shaped one would have none; m2 gets them too
    ]);
    assertEquals((await deviceEvents(db, dev1, { limit: 10 })).length, 0);

    // A reboot, delivered twice (a redelivered queue message): one device event
    const rebooted = depthSample(m1, t0 + 120_000, {
      bootTime: t0 + 100_000,
      events: [],
      services: [{
        name: "Spooler",
        displayName: "Print Spooler",
        state: "Running",
        startMode: "Auto",
      }],
    });
    await write([rebooted]);
    await write([rebooted]);
    const events = await deviceEvents(db, dev1, { limit: 10 });
    assertEquals(events.map((e) => e.kind), ["reboot"]);
    assertEquals(new Date(events[0].ts).getTime(), t0 + 100_000);
    assert(events[0].message.includes("rebooted at"));

    // Services: the newest list; the poll without services kept the earlier one meanwhile
    const services = await deviceServices(db, dev1, {});
    assertEquals(services.services.map((s) => [s.name, s.state]), [["Spooler", "Running"]]);
    assertEquals(new Date(services.collected_at!).getTime(), t0 + 120_000);

    // Processes: one row per poll; the newest read back, sorted as asked
    const [{ n: procRows }] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM process_samples WHERE monitor_id = $1",
      [m1],
    );
    assertEquals(procRows, 3);
    const procs = await deviceProcesses(db, dev1, { sort: "memory" });
    assertEquals(procs.processes.map((p) => p.name), ["sqlservr", "w3wp"]);

    // Event log: the same records from two polls are stored once; filters work
    const all = await deviceEventLog(db, dev1, {
      from: new Date(t0 - DAY),
      to: new Date(),
      limit: 50,
      offset: 0,
    });
    assertEquals(all.total, 4, "2 entries × 2 distinct poll times (ts differs per sample)");
    const scm = await deviceEventLog(db, dev1, {
      from: new Date(t0 - DAY),
      to: new Date(),
      source: "service control manager",
      event_id: 7034,
      limit: 50,
      offset: 0,
    });
    assert(scm.items.every((e) => e.event_id === 7034 && e.log === "System"));
    assertEquals(scm.total, 2);
    await write([depthSample(m1, t0)]); // a redelivery of the first poll
    assertEquals(
      (await deviceEventLog(db, dev1, {
        from: new Date(t0 - DAY),
        to: new Date(),
        limit: 50,
        offset: 0,
      })).total,
      4,
    );

    // Series on metrics: latest and history with per-core and per-disk breakdowns
    const ref = { id: m1, device_id: dev1, polling_interval: 60, last_polled: null };
    const latest = (await latestSample(db, ref)).sample!;
    assertEquals(latest.uptime_s, 3_600);
    assertEquals(latest.page_file.percent, 25);
    assertEquals(latest.cpu_cores.length, 2);
    assertEquals(latest.physical_disks[0].reads_ps, 10);
    const h = await history(db, m1, {
      from: new Date(t0 - 60_000),
      to: new Date(),
      points: 10,
      breakdown: "cpu_cores",
    });
    assertEquals(h.breakdown!.series.map((s) => s.name), ["0", "1"]);
    assert(h.points.some((p) => p.processor_queue.avg === 2));
    const disks = await history(db, m1, {
      from: new Date(t0 - 60_000),
      to: new Date(),
      points: 10,
      breakdown: "physical_disks",
    });
    assertEquals(disks.breakdown!.series[0].points[0].read_bps, 163_840);

    // Retention: process lists and event log entries older than their days are dropped
    const old = Date.now() - 10 * DAY;
    await ensureDetailPartitions(db, new Date(old));
    await write([depthSample(m2, old)]);
    const count = async (table: string) =>
      (await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table} WHERE monitor_id = $1 AND ts < $2`,
        [m2, new Date(Date.now() - 5 * DAY)],
      ))[0].n;
    assertEquals(await count("process_samples"), 1);
    assertEquals(await count("event_log_entries"), 2);
    const dropped = await applyDetailRetention(db, {
      process_retention_days: 7,
      event_retention_days: 30,
    });
    assert(dropped.some((n) => n.startsWith("process_samples_p")), dropped.join());
    assert(!dropped.some((n) => n.startsWith("event_log_entries_p")), dropped.join());
    assertEquals(await count("process_samples"), 0);
    assertEquals(await count("event_log_entries"), 2);
  },
);

migratedTest(
  "a host's NUL or half an emoji in any text stores as U+FFFD, the rest of the batch with it",
  async (db) => {
    // PostgreSQL refuses \u0000 and a lone surrogate in JSON: before, one such string failed the
    // whole batch (every monitor's rows), and the queue retried it until it was dead-lettered.
    await ensurePartitions(db);
    await ensureDetailPartitions(db);
    const [m1, m2] = await seedMonitors(db, 2);
    const [{ device_id: dev1 }] = await db.query<{ device_id: number }>(
      "SELECT device_id FROM monitors WHERE id = $1",
      [m1],
    );
    const writer = new MetricsWriter(db);
    const t0 = Date.now() - 60_000;
    const halfEmoji = "😀".slice(0, 1);
    const hostile = depthSample(m1, t0, {
      processes: [{
        name: `evil\u0000${halfEmoji}.exe`,
        pid: 66,
        cpuPercent: 1,
        memory: 1_000,
        threads: 1,
        handles: 1,
      }],
      events: [{
        log: "System",
        record: 1,
        ts: t0 - 1_000,
        source: "src",
        eventId: 1,
        level: "error",
        // the collector cuts messages at 512: an emoji across the cut leaves half of it
        message: ("m".repeat(511) + "😀").slice(0, 512),
      }],
    });
    hostile.volumes = [{ name: `C:\u0000${halfEmoji}`, total: 100, used: 50 }];
    // a literal backslash-u text is left as it is
    const literal = String.raw`not an escape: \u0000 \ud800`;
    const result = await writer.commit([{
      v: 1,
      batchId: crypto.randomUUID(),
      samples: [hostile, depthSample(m2, t0)],
      outcomes: [{
        monitorId: m2,
        deviceId: 0,
        ok: false,
        attempts: 1,
        attemptedAt: t0,
        dueAt: t0,
        durationMs: 5,
        // the writer keeps 2,000 characters of an error: the emoji is cut in half
        error: "E".repeat(1_999) + "😀" + literal,
      }],
    }]);
    assertEquals(result.inserted, 2);
    const procs = await deviceProcesses(db, dev1, { sort: "memory" });
    assertEquals(procs.processes.map((p) => p.name), ["evil\ufffd\ufffd.exe"]);
    const log = await deviceEventLog(db, dev1, {
      from: new Date(t0 - DAY),
      to: new Date(),
      limit: 5,
      offset: 0,
    });
    assertEquals(log.items[0].message, "m".repeat(511) + "\ufffd");
    const [row] = await db.query<{ volumes: { name: string }[] }>(
      "SELECT volumes FROM metrics WHERE monitor_id = $1",
      [m1],
    );
    assertEquals(row.volumes[0].name, "C:\ufffd\ufffd");
    const [mon] = await db.query<{ last_error: string }>(
      "SELECT last_error FROM monitors WHERE id = $1",
      [m2],
    );
    assertEquals(mon.last_error, "E".repeat(1_999) + "\ufffd");
    assertEquals(pgJson([literal]), JSON.stringify([literal]));
  },
);
