import { assert, assertEquals } from "../helpers/assert.ts";
import { migratedTest } from "../helpers/databases.ts";
import { seedMonitors, seedMonitorsInBulk } from "../helpers/seed.ts";
import type { Database } from "../../lib/db/driver.ts";
import { ensurePartitions } from "../../lib/metrics/partitions.ts";
import {
  COMMIT_SQL,
  MetricsWriter,
  outcomesToJson,
  samplesJson,
} from "../../lib/metrics/writer.ts";
import type { MetricSample, PollOutcome, ResultBatch } from "../../lib/messages.ts";
import { decodeBatch, encodeBatch, packBatches } from "../../lib/queue/results_queue.ts";
import { standardSample as sample } from "../helpers/standard_sample.ts";

/** A test per backend on a migrated database with `monitors` monitors seeded. */
function writerTest(
  name: string,
  monitors: number,
  fn: (db: Database, ids: number[]) => Promise<void>,
): void {
  migratedTest(name, async (db) => {
    await ensurePartitions(db);
    await fn(db, await seedMonitors(db, monitors));
  });
}

function outcome(monitorId: number, at: number, ok: boolean, error?: string): PollOutcome {
  return {
    monitorId,
    deviceId: 0,
    ok,
    attempts: ok ? 1 : 3,
    attemptedAt: at,
    dueAt: at,
    durationMs: 5,
    error,
  };
}

writerTest(
  "metrics writer: COPY commit, idempotent redelivery, outcomes recorded",
  3,
  async (db, [m1, m2, m3]) => {
    const committed: PollOutcome[] = [];
    const writer = new MetricsWriter(db, { onCommitted: (o) => committed.push(...o) });
    const t0 = Date.now() - 60_000;
    const batch: ResultBatch = {
      v: 1,
      batchId: "b1",
      samples: [sample(m1, t0), sample(m2, t0), sample(m1, t0 + 30_000)],
      outcomes: [outcome(m1, t0 + 30_000, true), outcome(m3, t0, false, "timed out")],
    };
    // Both arrive at once, as a redelivery racing the original would.
    await Promise.all([writer.write(batch), writer.write(structuredClone(batch))]);
    const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM metrics");
    assertEquals(n, 3, "the redelivered batch added no row");
    assertEquals(writer.totals.inserted, 3);
    assertEquals(writer.totals.duplicates, 3);
    assertEquals(committed.length, 2, "the copy's outcomes are not reported again");
    // delivered again later: counted, not written, not reported
    const reported = committed.length;
    const again = await writer.commit([structuredClone(batch)]);
    assertEquals([again.rows, again.inserted, again.duplicates], [3, 0, 3]);
    assertEquals(committed.length, reported);

    const [row] = await db.query<Record<string, unknown>>(
      `SELECT memory_total, disk_used, net_recv_bps, volumes FROM metrics
     WHERE monitor_id = $1 ORDER BY ts LIMIT 1`,
      [m1],
    );
    assertEquals(row.memory_total, 17_179_869_184);
    assertEquals(row.disk_used, 101_234_567_890);
    assertEquals(row.net_recv_bps, 56_000.5);
    assertEquals((row.volumes as { name: string }[])[0].name, 'C: "system"');

    const monitors = await db.query<Record<string, unknown>>(
      `SELECT id, last_polled, last_error, last_error_at, consecutive_failures
     FROM monitors ORDER BY id`,
    );
    assertEquals((monitors[0].last_polled as Date).getTime(), t0 + 30_000);
    assertEquals(monitors[0].last_error, null);
    assertEquals(monitors[2].last_error, "timed out");
    assertEquals((monitors[2].last_error_at as Date).getTime(), t0);
    assertEquals(monitors[2].consecutive_failures, 1, "the redelivered failure counts once");

    // m3 fails again in a later batch; that batch redelivered adds nothing; a success resets
    const failedAgain: ResultBatch = {
      v: 1,
      batchId: "b1b",
      samples: [],
      outcomes: [outcome(m3, t0 + 45_000, false, "refused")],
    };
    await writer.write(failedAgain);
    // after a restart the writer remembers no batch: the statement itself must not count it
    await new MetricsWriter(db).write(structuredClone(failedAgain));
    const failures = async () =>
      (await db.query<{ n: number }>(
        "SELECT consecutive_failures AS n FROM monitors WHERE id = $1",
        [m3],
      ))[0].n;
    assertEquals(await failures(), 2);
    await writer.write({ v: 1, batchId: "b1c", samples: [], outcomes: [outcome(m3, t0, false)] });
    assertEquals(await failures(), 2, "an outcome older than the last attempt changes nothing");
    await writer.write({
      v: 1,
      batchId: "b1d",
      samples: [],
      outcomes: [outcome(m3, t0 + 50_000, true)],
    });
    assertEquals(await failures(), 0);

    // A monitor deleted between poll and write: its rows are dropped, the rest commit.
    await db.query("DELETE FROM monitors WHERE id = $1", [m2]);
    await writer.write({
      v: 1,
      batchId: "b2",
      samples: [sample(m2, t0 + 60_000), sample(m3, t0 + 60_000)],
      outcomes: [],
    });
    assertEquals(writer.totals.orphaned, 1);
    const [{ n: after }] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM metrics",
    );
    assertEquals(after, 3, "m2's rows went with it (cascade) and only m3's new row came");
  },
);

Deno.test("results queue: batches stay under the KV value limit and round-trip", () => {
  const samples = Array.from({ length: 2_000 }, (_, i) => sample(i + 1, 1_700_000_000_000 + i));
  const outcomes = samples.map((s) => outcome(s.monitorId, s.ts, true));
  const batches = packBatches(samples, outcomes);
  assert(batches.length > 1, "2,000 results do not fit one message");
  let total = 0;
  for (const b of batches) {
    const bytes = encodeBatch(b);
    assert(bytes.length <= 60_000, `message of ${bytes.length} bytes`);
    const back = decodeBatch(bytes);
    assertEquals(back.batchId, b.batchId);
    total += back.samples.length + back.outcomes.length;
  }
  assertEquals(total, 4_000, "nothing lost in packing");
  let threw = false;
  try {
    decodeBatch(new TextEncoder().encode('{"v":2}'));
  } catch (err) {
    threw = (err as Error).name === "ResultBatchFormatError";
  }
  assert(threw, "a foreign message is refused by name");
});

writerTest(
  "metrics writer: every column from its sample key, ts to the ms, counts rounded",
  2,
  async (db, [m1, m2]) => {
    const writer = new MetricsWriter(db);
    const ts = Math.floor(Date.now() / 1000) * 1000 - 60_000 + 123; // a millisecond survives
    const full: MetricSample = {
      ...sample(m1, ts),
      memoryUsed: 6_442_450_944.6,
      netPacketsSent: 10.4,
      processCount: 142.5,
      netUtilization: Number.NaN,
      netSentBps: Number.POSITIVE_INFINITY,
      interfaces: [{
        name: "eth0",
        sentBps: 1,
        recvBps: 2,
        packetsSent: 3,
        packetsRecv: 4,
        errors: 5,
        discards: 6,
        bandwidthBps: 1e9,
        utilization: 0.5,
      }],
      uptimeS: 3_600.7,
      bootTime: ts - 3_600_000,
      pageFileTotal: 4_096,
      pageFileUsed: 1_024,
      processorQueue: 2,
      contextSwitchesPs: 1_500.5,
      cpuCores: [{ name: "0", percent: 12 }],
      physicalDisks: [{
        name: "0 C:",
        readsPs: 1,
        writesPs: 2,
        readBps: 3,
        writeBps: 4,
        queue: 0,
        secPerTransfer: 0.001,
      }],
      processNames: ["System"],
      partial: [{ part: "disks", class: "fault", reason: "access denied" }],
    };
    await writer.write({
      v: 1,
      batchId: "cols",
      samples: [full, { ...sample(m2, ts + 1), volumes: null }],
      outcomes: [],
    });
    const rows = await db.query<Record<string, unknown>>(
      `SELECT *, (extract(epoch FROM ts) * 1000)::bigint AS ms FROM metrics ORDER BY monitor_id`,
    );
    assertEquals(rows.length, 2);
    const [a, b] = rows;
    assertEquals(Number(a.ms), ts);
    assertEquals(Number(b.ms), ts + 1);
    assertEquals(a.monitor_id, m1);
    assertEquals(a.cpu_percent, 12.5);
    assertEquals(Number(a.memory_total), 17_179_869_184);
    assertEquals(Number(a.memory_used), 6_442_450_945);
    assertEquals(Number(a.net_packets_sent), 10);
    assertEquals(a.process_count, 143);
    assertEquals(a.net_utilization, null, "NaN is stored as null");
    assertEquals(a.net_sent_bps, null, "Infinity is stored as null");
    assertEquals(a.net_recv_bps, 56_000.5);
    assertEquals(Number(a.net_discards), 1);
    assertEquals(a.collection_ms, 7);
    assertEquals((a.interfaces as { errors: number }[])[0].errors, 5);
    assertEquals(Number(a.uptime_s), 3_601);
    assertEquals(Number(a.page_file_total), 4_096);
    assertEquals(a.processor_queue, 2);
    assertEquals(a.context_switches_ps, 1_500.5);
    assertEquals(a.cpu_cores, [{ name: "0", percent: 12 }]);
    assertEquals((a.physical_disks as { name: string }[])[0].name, "0 C:");
    assertEquals(a.partial, [{ part: "disks", class: "fault", reason: "access denied" }]);
    assertEquals(b.volumes, null);
    assertEquals(b.uptime_s, null);
    assertEquals(b.partial, null);
  },
);

writerTest(
  "metrics writer: batches written in one go share one commit",
  4,
  async (db, monitors) => {
    const writer = new MetricsWriter(db);
    const t0 = Date.now() - 60_000;
    // as POST /ingest hands a request's batches over: one write per batch, same task
    await Promise.all(monitors.map((m, i) =>
      writer.write({
        v: 1,
        batchId: `one-go-${i}`,
        samples: [sample(m, t0)],
        outcomes: [outcome(m, t0, true)],
      })
    ));
    const commits = Object.values(writer.batchRows.buckets).reduce((a, b) => a + b, 0);
    assertEquals(commits, 1, "one commit for the four batches");
    assertEquals(writer.lastCommit?.batches, 4);
    assertEquals(writer.totals.inserted, 4);
  },
);

migratedTest(
  "metrics writer: a commit reaches monitors by their key, never by reading the whole table",
  async (db) => {
    await ensurePartitions(db);
    // a fleet's worth of monitors, planned with real statistics
    const ids = await seedMonitorsInBulk(db, 20_000);
    await db.query("ANALYZE monitors");
    const t0 = Date.now() - 60_000;
    const batch = ids.slice(0, 200);
    const params = [
      samplesJson(batch.map((m) => sample(m, t0)), false),
      outcomesToJson(batch.map((m) => outcome(m, t0, true))),
    ];
    const [row] = await db.query<{ "QUERY PLAN": unknown }>(
      `EXPLAIN (FORMAT JSON) ${COMMIT_SQL}`,
      params,
    );
    const plan = row["QUERY PLAN"];
    const scans: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== "object") return;
      const n = node as Record<string, unknown>;
      if (n["Node Type"] === "Seq Scan") scans.push(String(n["Relation Name"]));
      for (const v of Object.values(n)) walk(v);
    };
    walk(typeof plan === "string" ? JSON.parse(plan) : plan);
    assert(JSON.stringify(plan).includes("monitors"), "the plan touches monitors");
    assertEquals(scans.filter((r) => r === "monitors"), [], `seq scans: ${scans.join(", ")}`);
    // and the commit itself, among 20,000 monitors
    const writer = new MetricsWriter(db);
    await writer.write({
      v: 1,
      batchId: "plan",
      samples: batch.map((m) => sample(m, t0)),
      outcomes: batch.map((m) => outcome(m, t0, true)),
    });
    assertEquals(writer.totals.inserted, 200);
    const [{ n }] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM monitors WHERE last_polled IS NOT NULL",
    );
    assertEquals(n, 200);
  },
);
