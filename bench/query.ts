/**
 * `deno task bench:query`: seeds a fresh database (embedded; or a scratch database on the
 * PostgreSQL of DATABASE_URL, dropped afterwards) with 30 days of one-minute samples for one
 * monitor plus a day of them for 200 others, then prints latency percentiles of the metrics
 * reads: the reader functions directly, and the same endpoints over HTTP.
 *
 *   deno task bench:query [-- --days 30 --monitors 200 --iterations 200 --explain]
 */
import { createScratchDatabase, type ScratchDatabase } from "../tests/helpers/databases.ts";
import { loadConfig } from "../lib/config.ts";
import { compose } from "../lib/compose.ts";
import { createApp } from "../routes/app.ts";
import type { Database } from "../lib/db/driver.ts";
import { ensurePartitions } from "../lib/metrics/partitions.ts";
import { METRIC_COLUMNS, samplesToCsv } from "../lib/metrics/writer.ts";
import type { MetricSample } from "../lib/messages.ts";
import {
  bucketSeconds,
  getMonitorRef,
  history,
  HISTORY_SQL,
  LATEST_SQL,
  latestSample,
} from "../lib/metrics/reader.ts";

const MIN = 60_000;
const DAY = 86_400_000;

export function option(name: string, fallback: string): string {
  const args = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined && !args[i + 1].startsWith("--")
    ? args[i + 1]
    : args.includes(`--${name}`)
    ? "true"
    : fallback;
}

/** A throwaway database on the server of `adminUrl`, so a bench never touches real data. */
export function scratchDatabase(adminUrl: string): Promise<ScratchDatabase> {
  return createScratchDatabase("nmslite_bench", adminUrl);
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];
}

export interface Timing {
  name: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

async function measure(name: string, n: number, fn: () => Promise<unknown>): Promise<Timing> {
  for (let i = 0; i < Math.min(5, n); i++) await fn(); // warm caches and plan caches
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const [p50, p95, p99] = [50, 95, 99].map((p) => percentile(times, p));
  return { name, n, p50, p95, p99, max: times[times.length - 1] };
}

export function printTable(title: string, rows: Timing[]): void {
  const f = (v: number) => v.toFixed(2).padStart(8);
  console.log(`\n${title}`);
  console.log(`| ${"query".padEnd(48)} |    n |  p50 ms |  p95 ms |  p99 ms |  max ms |`);
  console.log(`|${"-".repeat(50)}|------|---------|---------|---------|---------|`);
  for (const r of rows) {
    console.log(
      `| ${r.name.padEnd(48)} | ${String(r.n).padStart(4)} |${f(r.p50)} |${f(r.p95)} |${
        f(r.p99)
      } |${f(r.max)} |`,
    );
  }
}

/** A plausible sample that moves with time (also used by bench:ingest). */
export function syntheticSample(monitorId: number, ts: number): MetricSample {
  const phase = (ts / MIN) % 1440 / 1440 * 2 * Math.PI;
  const mem = 17_179_869_184;
  return {
    monitorId,
    ts,
    cpuPercent: Math.round((40 + 35 * Math.sin(phase + monitorId)) * 10) / 10,
    memoryTotal: mem,
    memoryUsed: Math.round(mem * (0.5 + 0.2 * Math.cos(phase))),
    diskTotal: 500e9,
    diskUsed: 200e9 + (ts % DAY),
    netSentBps: 10_000 + (ts % 7_919),
    netRecvBps: 50_000 + (ts % 6_007),
    netPacketsSent: 100,
    netPacketsRecv: 400,
    netErrors: 0,
    netDiscards: 0,
    netUtilization: null,
    processCount: 140 + (ts / MIN) % 20,
    collectionMs: 40,
    volumes: [{ name: "C:", total: 250e9, used: 100e9 }, { name: "D:", total: 250e9, used: 100e9 }],
    interfaces: [{
      name: "Ethernet0",
      sentBps: 10_000,
      recvBps: 50_000,
      packetsSent: 100,
      packetsRecv: 400,
      errors: 0,
      discards: 0,
      bandwidthBps: 1e9,
      utilization: null,
    }],
  };
}

/** Partitions for the whole seeded range (the app only makes them from yesterday on). */
async function seed(db: Database, days: number, others: number, now: number): Promise<number[]> {
  for (let d = days + 1; d >= 0; d--) await ensurePartitions(db, new Date(now - d * DAY));
  await db.query(
    `INSERT INTO credential_profiles (name, type, username, password_enc, port)
     VALUES ('bench', 'winrm_ntlm', 'bench', 'v1:0:x', 5985)`,
  );
  const ids = (await db.query<{ id: number }>(
    `WITH d AS (
       INSERT INTO devices (ip, hostname)
       SELECT '10.77.0.0'::inet + g, 'bench-' || g FROM generate_series(1, $1) g
       RETURNING id)
     INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval, enabled)
     SELECT d.id, (SELECT min(id) FROM credential_profiles), (SELECT min(id) FROM plugins), 60, false
     FROM d ORDER BY d.id RETURNING id`,
    [others + 1],
  )).map((r) => r.id).sort((a, b) => a - b);
  const end = Math.floor(now / MIN) * MIN;
  let chunk: MetricSample[] = [];
  let rows = 0;
  const flush = async () => {
    await db.copyCsv("metrics", METRIC_COLUMNS, samplesToCsv(chunk));
    rows += chunk.length;
    chunk = [];
  };
  const t0 = performance.now();
  for (const [i, id] of ids.entries()) {
    const span = i === 0 ? days * DAY : DAY;
    for (let ts = end - span + MIN; ts <= end; ts += MIN) {
      chunk.push(syntheticSample(id, ts));
      if (chunk.length >= 20_000) await flush();
    }
  }
  if (chunk.length) await flush();
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `seeded ${rows} rows in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s)`,
  );
  await db.query("UPDATE monitors SET last_polled = $1", [new Date(end)]);
  // Old rows would long have been vacuumed: set hint bits now so reads do not pay for it.
  await db.exec("VACUUM (ANALYZE) metrics");
  return ids;
}

async function main() {
  const days = Number(option("days", "30"));
  const others = Number(option("monitors", "200"));
  const iterations = Number(option("iterations", "200"));
  const adminUrl = Deno.env.get("DATABASE_URL") || undefined;
  const scratch = adminUrl ? await scratchDatabase(adminUrl) : undefined;
  const dataDir = await Deno.makeTempDir({ prefix: "nmslite-bench-query-" });
  const password = crypto.randomUUID();
  const env: Record<string, string> = {
    NMSLITE_DATA_DIR: dataDir,
    NMSLITE_ADMIN_PASSWORD: password,
    NMSLITE_LOG_LEVEL: "error",
    NMSLITE_PLAIN_HTTP: "true",
  };
  if (scratch) env.DATABASE_URL = scratch.url;
  const ctx = await compose(loadConfig([], env));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    createApp(ctx, { bodyLimitBytes: ctx.config.server.body_limit_bytes }).fetch,
  );
  try {
    const db = ctx.db;
    console.log(`backend: ${db.kind}; ${days} days × 1/min for one monitor + ${others} × 1 day`);
    const now = Date.now();
    const ids = await seed(db, days, others, now);
    const main = (await getMonitorRef(db, ids[0]))!;
    const from = new Date(Math.floor(now / MIN) * MIN - days * DAY);
    const to = new Date(Math.floor(now / MIN) * MIN + MIN);
    const api = `http://127.0.0.1:${server.addr.port}/api/v1`;
    const login = await fetch(`${api}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password }),
    });
    const token = (await login.json()).data.access_token;
    const get = async (path: string) => {
      const res = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
      return await res.json();
    };
    const hist =
      `/monitors/${main.id}/metrics/history?from=${from.toISOString()}&to=${to.toISOString()}&points=500`;
    const points = (await get(hist)).data.points.length;
    console.log(`30-day history: ${points} points of ${bucketSeconds(from, to, 500)} s`);
    let k = 0;
    const other = () => ids[1 + (k++ % others)];
    const results: Timing[] = [
      await measure("latest, 30-day monitor (reader)", iterations, () => latestSample(db, main)),
      await measure(
        "latest, other monitors (reader, incl. lookup)",
        iterations,
        async () => latestSample(db, (await getMonitorRef(db, other()))!),
      ),
      await measure(
        `history ${days} d → 500 points (reader)`,
        Math.ceil(iterations / 4),
        () => history(db, main.id, { from, to, points: 500 }),
      ),
      await measure(
        `history ${days} d → 500 + volumes (reader)`,
        Math.ceil(iterations / 10),
        () => history(db, main.id, { from, to, points: 500, breakdown: "volumes" }),
      ),
      await measure(
        "history 1 h → 300 points (reader)",
        iterations,
        () => history(db, main.id, { from: new Date(to.getTime() - 3_600_000), to, points: 300 }),
      ),
      await measure(
        "GET /monitors/:id/metrics",
        iterations,
        () => get(`/monitors/${main.id}/metrics`),
      ),
      await measure(
        "GET /devices/:id/metrics",
        iterations,
        () => get(`/devices/${main.device_id}/metrics`),
      ),
      await measure(
        `GET …/metrics/history ${days} d, 500 points`,
        Math.ceil(iterations / 4),
        () => get(hist),
      ),
    ];
    printTable(`bench:query on ${db.kind}`, results);
    if (option("explain", "false") === "true") {
      const explain = db.kind === "postgres"
        ? "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)"
        : "EXPLAIN ANALYZE";
      const bound = new Date(new Date(main.last_polled!).getTime() - 3_600_000);
      for (
        const [title, sql, params] of [
          ["latest", LATEST_SQL, [main.id, bound]],
          ["history", HISTORY_SQL, [main.id, from, to, `${bucketSeconds(from, to, 500)} seconds`]],
        ] as const
      ) {
        const plan = await db.query<Record<string, string>>(`${explain} ${sql}`, [...params]);
        console.log(`\nEXPLAIN ${title}:\n${plan.map((r) => Object.values(r)[0]).join("\n")}`);
      }
    }
  } finally {
    await server.shutdown();
    await ctx.db.close();
    await scratch?.drop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

if (import.meta.main) await main();
