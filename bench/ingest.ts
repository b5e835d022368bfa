/**
 * `deno task bench:ingest`: rows/s from the Deno KV results queue to committed `metrics` rows.
 * Enqueues result batches (as pollers do: packBatches + encodeBatch) into a temporary KV file,
 * consumes them with kv.listenQueue and MetricsWriter.write(decodeBatch(msg)), and times from
 * the first enqueue until every row is committed. Runs on a fresh embedded database and, when
 * DATABASE_URL is set, on a scratch database on that PostgreSQL (dropped afterwards).
 *
 *   deno task bench:ingest [-- --rows 100000 --monitors 200]
 */
import { type Database, openDatabase } from "../lib/db/driver.ts";
import { migrate } from "../lib/db/migrate.ts";
import { ensurePartitions } from "../lib/metrics/partitions.ts";
import { MetricsWriter } from "../lib/metrics/writer.ts";
import type { MetricSample, PollOutcome } from "../lib/messages.ts";
import { decodeBatch, encodeBatch, packBatches } from "../lib/queue/results_queue.ts";
import { option, percentile, scratchDatabase, syntheticSample as sample } from "./query.ts";
import { seedMonitorsInBulk } from "../tests/helpers/seed.ts";

const MIN = 60_000;

interface IngestResult {
  backend: string;
  rows: number;
  messages: number;
  enqueueMs: number;
  totalMs: number;
  commits: number;
  commitMs: number[];
}

async function run(backend: string, db: Database, rows: number, monitors: number) {
  await migrate(db);
  await ensurePartitions(db);
  const ids = await seedMonitorsInBulk(db, monitors);
  // One poll round per minute of the last hours, every monitor once per round, as pollers
  // would send them: samples with their outcomes, packed under the KV value limit.
  const now = Math.floor(Date.now() / MIN) * MIN;
  const samples: MetricSample[] = [];
  const outcomes: PollOutcome[] = [];
  for (let i = 0; i < rows; i++) {
    const monitorId = ids[i % ids.length];
    const ts = now - Math.floor(i / ids.length) * MIN;
    samples.push(sample(monitorId, ts));
    outcomes.push({
      monitorId,
      deviceId: 0,
      ok: true,
      attempts: 1,
      attemptedAt: ts,
      dueAt: ts,
      durationMs: 40,
    });
  }
  const batches = packBatches(samples, outcomes);
  const messages = batches.map(encodeBatch);

  const kvDir = await Deno.makeTempDir({ prefix: "nmslite-bench-kv-" });
  const kv = await Deno.openKv(`${kvDir}/queue.sqlite3`);
  const commitMs: number[] = [];
  const writer = new MetricsWriter(db, { onCommitted: (_o, r) => commitMs.push(r.commitMs) });
  let committed = 0;
  let failures = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const listening = kv.listenQueue(async (msg: unknown) => {
    try {
      const batch = decodeBatch(msg);
      await writer.write(batch);
      committed += batch.samples.length;
      if (committed >= rows) resolve();
    } catch (err) {
      failures++;
      throw err; // KV redelivers it
    }
  });
  const t0 = performance.now();
  // A few enqueues in flight, like several poller Workers sharing the KV file.
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < messages.length) await kv.enqueue(messages[next++]);
  }));
  const enqueueMs = performance.now() - t0;
  await done;
  const totalMs = performance.now() - t0;
  const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM metrics");
  if (n !== rows) throw new Error(`expected ${rows} rows committed, found ${n}`);
  if (failures) console.log(`${backend}: ${failures} deliveries failed and were retried`);
  kv.close();
  await listening.catch(() => {});
  await Deno.remove(kvDir, { recursive: true });
  commitMs.sort((a, b) => a - b);
  return {
    backend,
    rows,
    messages: messages.length,
    enqueueMs,
    totalMs,
    commits: commitMs.length,
    commitMs,
  } satisfies IngestResult;
}

function print(results: IngestResult[]): void {
  console.log(
    "\n| backend  |   rows | messages | enqueue s | total s |  rows/s | msgs/s | commits | " +
      "rows/commit | commit p50 ms | commit p95 ms |",
  );
  console.log(
    "|----------|--------|----------|-----------|---------|---------|--------|---------|" +
      "-------------|---------------|---------------|",
  );
  for (const r of results) {
    const s = r.totalMs / 1000;
    const cells = [
      r.backend.padEnd(8),
      String(r.rows).padStart(6),
      String(r.messages).padStart(8),
      (r.enqueueMs / 1000).toFixed(2).padStart(9),
      s.toFixed(2).padStart(7),
      String(Math.round(r.rows / s)).padStart(7),
      String(Math.round(r.messages / s)).padStart(6),
      String(r.commits).padStart(7),
      String(Math.round(r.rows / r.commits)).padStart(11),
      percentile(r.commitMs, 50).toFixed(1).padStart(13),
      percentile(r.commitMs, 95).toFixed(1).padStart(13),
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
}

async function main() {
  const rows = Number(option("rows", "100000"));
  const monitors = Number(option("monitors", "200"));
  const results: IngestResult[] = [];
  const dataDir = await Deno.makeTempDir({ prefix: "nmslite-bench-ingest-" });
  const lite = await openDatabase({ dataDir });
  try {
    results.push(await run("pglite", lite, rows, monitors));
  } finally {
    await lite.close();
    await Deno.remove(dataDir, { recursive: true });
  }
  const adminUrl = Deno.env.get("DATABASE_URL");
  if (adminUrl) {
    const scratch = await scratchDatabase(adminUrl);
    const pg = await openDatabase({ url: scratch.url, dataDir });
    try {
      results.push(await run("postgres", pg, rows, monitors));
    } finally {
      await pg.close();
      await scratch.drop();
    }
  }
  print(results);
}

if (import.meta.main) await main();
