import { assert, assertEquals } from "../helpers/assert.ts";
import { backends, openTestDatabase } from "../helpers/databases.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { ensurePartitions } from "../../lib/metrics/partitions.ts";
import { MetricsWriter } from "../../lib/metrics/writer.ts";
import type { MetricSample, PollOutcome, ResultBatch } from "../../lib/messages.ts";
import { decodeBatch, encodeBatch, packBatches } from "../../lib/queue/results_queue.ts";

function sample(monitorId: number, ts: number): MetricSample {
  return {
    monitorId,
    ts,
    cpuPercent: 12.5,
    memoryTotal: 17_179_869_184,
    memoryUsed: 6_442_450_944,
    diskTotal: 511_906_406_400,
    diskUsed: 101_234_567_890,
    netSentBps: 12_000,
    netRecvBps: 56_000.5,
    netPacketsSent: 10,
    netPacketsRecv: 20,
    netErrors: 0,
    netDiscards: 1,
    netUtilization: 0.05,
    processCount: 143,
    collectionMs: 7,
    volumes: [{ name: 'C: "system"', total: 255_953_203_200, used: 101_234_567_890 }],
    interfaces: null,
  };
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

for (const backend of backends()) {
  Deno.test({
    name: `metrics writer: COPY commit, idempotent redelivery, outcomes recorded (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, close } = await openTestDatabase(backend);
      try {
        await migrate(db);
        await ensurePartitions(db);
        const [m1, m2, m3] = await seedMonitors(db, 3);
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
        assertEquals(committed.length, 4);

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
        assert((monitors[2].consecutive_failures as number) >= 1);

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
      } finally {
        await close();
      }
    },
  });
}

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
