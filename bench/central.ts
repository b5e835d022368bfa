/**
 * `deno task bench:central -- [--monitors 20000] [--rows-per-s 333] [--sizes 10,40,200]
 *   [--rows-per-batch 5] [--seconds 30] [--warmup 10] [--idle-seconds 10] [--nodes 4]
 *   [--central-v8-flags=F1,F2] [--floor empty|health] [--plain] [--http1]
 *   [--central-inspect PORT] [--identity]`
 *
 * The central role alone, fed by this process: a central process (`--role central`, HTTPS) on a
 * scratch PostgreSQL database (BENCH_DATABASE_URL or TEST_DATABASE_URL), `--monitors` monitors
 * in one site, `--nodes` enrolled poller node credentials, and POST /api/v1/ingest requests
 * carrying the rows a node would ship (a standard poll's sample and its outcome per row) at
 * `--rows-per-s`, for each request size in `--sizes` in turn. No simulator and no nodes run,
 * so the central's CPU is measured on a quiet machine and the split between what a request
 * costs and what a row costs can be read off the sizes: per size it prints requests/s, the
 * central's CPU per row and per request. bench:distributed measures the same figure with the
 * whole system around it.
 *
 * Diagnostics: `--floor empty` posts requests without rows (what a request costs by itself),
 * `--floor health` GET /health instead; `--plain` runs the central on HTTP, `--http1` keeps
 * the client off HTTP/2, `--identity` sends the bodies uncompressed (nodes gzip those of 4 KB
 * and more). On this machine (a Firecracker VM) each wake-up of an idle Deno
 * process costs ~0.25 ms of CPU, so a request's cost is mostly how many times it wakes the
 * central (its arrival, each statement's answer), not its bytes.
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { gzipSync } from "node:zlib";
import { cpuSeconds } from "./fleet_procs.ts";
import { createScratchDatabase } from "../tests/helpers/databases.ts";
import { apiCaller, benchSite, makeTls, startCentral } from "../tests/helpers/distributed.ts";
import type { MetricSample, PollOutcome, ResultBatch } from "../lib/messages.ts";

const argv = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
const { values } = parseArgs({
  args: argv,
  options: {
    monitors: { type: "string", default: "20000" },
    "rows-per-s": { type: "string", default: "333" },
    sizes: { type: "string", default: "10,40,200" },
    "rows-per-batch": { type: "string", default: "5" },
    seconds: { type: "string", default: "30" },
    warmup: { type: "string", default: "10" },
    "idle-seconds": { type: "string", default: "10" },
    http1: { type: "boolean", default: false },
    identity: { type: "boolean", default: false },
    plain: { type: "boolean", default: false },
    floor: { type: "string", default: "" },
    nodes: { type: "string", default: "4" },
    "central-v8-flags": { type: "string", default: "" },
    "central-inspect": { type: "string", default: "" },
  },
});
const MONITORS = Number(values.monitors);
const RATE = Number(values["rows-per-s"]);
const SIZES = values.sizes!.split(",").map(Number);
const PER_BATCH = Number(values["rows-per-batch"]);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const NODES = Number(values.nodes);
if (
  ![MONITORS, RATE, PER_BATCH, SECONDS, NODES].every((n) => Number.isFinite(n) && n > 0) ||
  !SIZES.every((n) => Number.isInteger(n) && n > 0)
) {
  console.error("--monitors, --rows-per-s, --sizes, --rows-per-batch, --seconds, --nodes: > 0");
  Deno.exit(2);
}
const say = (s: string) => console.log(s);

const adminUrl = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL");
if (!adminUrl) {
  console.error("set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL server");
  Deno.exit(2);
}

/** A standard poll's sample as the simulator's hosts give it. */
function sample(monitorId: number, ts: number): MetricSample {
  return {
    monitorId,
    ts,
    cpuPercent: (monitorId * 7 + ts / 1000) % 100,
    memoryTotal: 17_179_869_184,
    memoryUsed: 8_589_934_592 + (ts % 1_000_000),
    diskTotal: 512_110_190_592,
    diskUsed: 200_000_000_000 + monitorId,
    netSentBps: 12_345.6,
    netRecvBps: 65_432.1,
    netPacketsSent: 1_234,
    netPacketsRecv: 4_321,
    netErrors: 0,
    netDiscards: 0,
    netUtilization: 0.5,
    processCount: 123,
    collectionMs: 45,
    volumes: [{ name: "C:", total: 512_110_190_592, used: 200_000_000_000 + monitorId }],
    interfaces: [{
      name: "Intel[R] Ethernet Connection I219-LM",
      sentBps: 12_345,
      recvBps: 65_432,
      packetsSent: 12,
      packetsRecv: 43,
      errors: 0,
      discards: 0,
      bandwidthBps: 1_000_000_000,
      utilization: 0.5,
    }],
  } as MetricSample;
}

const dir = await Deno.makeTempDir({ prefix: "nmslite-bench-central-" });
const scratch = await createScratchDatabase("nmslite_benchcentral", adminUrl);
const sql = postgres(scratch.url, { max: 2, onnotice: () => {} });
const cleanup: (() => Promise<void>)[] = [];
try {
  const tls = await makeTls(dir);
  const central = await startCentral({
    databaseUrl: scratch.url,
    dir,
    name: "central",
    ...(values.plain ? {} : { tls }),
    env: { NMSLITE_LOG_LEVEL: "error" },
    v8Flags: values["central-v8-flags"]!.split(",").filter((f) => f),
    inspect: values["central-inspect"] ? Number(values["central-inspect"]) : undefined,
  });
  cleanup.push(() => central.stop());
  const client = Deno.createHttpClient({
    caCerts: [tls.cert],
    ...(values.http1 ? { http2: false } : {}),
  });
  cleanup.push(() => Promise.resolve(client.close()));
  const api = apiCaller(central.url, client);
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await api(method, path, body, token);
    if (res.status >= 300) {
      throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body;
  };
  const { token, site, cred } = await benchSite(api, "bench", "Bench-Passw0rd!");
  // Straight into the tables: the API would take minutes for thousands.
  await sql`INSERT INTO devices (ip, site_id, status)
    SELECT '10.80.0.0'::inet + g, ${site}, 'monitoring' FROM generate_series(1, ${MONITORS}) g`;
  const monitors = await sql<{ id: number; device_id: number }[]>`
    INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval)
    SELECT d.id, ${cred}, 1, 60 FROM devices d WHERE d.site_id = ${site}
    RETURNING id, device_id`;
  const secrets: string[] = [];
  for (let i = 0; i < NODES; i++) {
    const n = (await call("POST", "/poller-nodes", { site_id: site, name: `bench-${i}` }, token))
      .data;
    secrets.push(
      (await call("POST", "/nodes/enrol", { token: n.enrolment_token, version: "bench" })).data
        .secret,
    );
  }
  say(`central: ${MONITORS} monitors, ${NODES} node credentials; ${RATE} rows/s`);

  // Each monitor's rows are a poll interval apart, as a node ships them; ts stays unique.
  let cursor = 0;
  let clock = Date.now() - 3_600_000;
  const nextRow = (): [MetricSample, PollOutcome] => {
    const m = monitors[cursor];
    if (++cursor === monitors.length) {
      cursor = 0;
      clock += 60_000;
    }
    const ts = clock + (m.id % 60_000);
    return [sample(m.id, ts), {
      monitorId: m.id,
      deviceId: m.device_id,
      ok: true,
      attempts: 1,
      attemptedAt: ts,
      dueAt: ts,
      durationMs: 40,
    }];
  };
  const body = (rows: number) => {
    const batches: ResultBatch[] = [];
    for (let left = rows; left > 0; left -= PER_BATCH) {
      const b: ResultBatch = { v: 1, batchId: crypto.randomUUID(), samples: [], outcomes: [] };
      for (let i = 0; i < Math.min(PER_BATCH, left); i++) {
        const [s, o] = nextRow();
        b.samples.push(s);
        b.outcomes.push(o);
      }
      batches.push(b);
    }
    return JSON.stringify({ batches });
  };

  /** Posts `size`-row requests spread over the nodes at RATE rows/s for `seconds`. */
  const drive = async (size: number, seconds: number) => {
    const perNodeGap = size / RATE * NODES * 1000;
    let requests = 0, rows = 0, failed = 0;
    const until = performance.now() + seconds * 1000;
    await Promise.all(secrets.map(async (secret, i) => {
      await new Promise((r) => setTimeout(r, perNodeGap / NODES * i));
      let next = performance.now();
      while (next < until) {
        const json = values.floor === "empty"
          ? JSON.stringify({
            batches: [{ v: 1, batchId: crypto.randomUUID(), samples: [], outcomes: [] }],
          })
          : body(size);
        // as a node sends it (lib/node/central_client.ts): gzip from 4 KB
        const zip = !values.identity && json.length >= 4_096;
        const res = values.floor === "health"
          ? await fetch(`${central.url}/health`, { client } as RequestInit)
          : await fetch(`${central.url}/api/v1/ingest`, {
            method: "POST",
            client,
            headers: {
              "content-type": "application/json",
              authorization: `Bearer ${secret}`,
              ...(zip ? { "content-encoding": "gzip" } : {}),
            },
            body: zip ? gzipSync(new TextEncoder().encode(json)) : json,
          } as RequestInit);
        await res.body?.cancel();
        if (res.ok) {
          requests++;
          rows += size;
        } else failed++;
        next += perNodeGap;
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }));
    return { requests, rows, failed };
  };

  const idle0 = cpuSeconds(central.pid);
  const idleSeconds = Number(values["idle-seconds"]);
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const idleMsPerS = (cpuSeconds(central.pid) - idle0) * 1000 / idleSeconds;
  say(`idle (no requests, background duties only): ${idleMsPerS.toFixed(2)} ms CPU/s`);
  say("");
  say("| rows/request | requests/s | rows/s | failed | central CPU ms/row | ms/request |");
  say("|---|---|---|---|---|---|");
  const results = [];
  for (const size of SIZES) {
    await drive(size, WARMUP);
    const cpu0 = cpuSeconds(central.pid);
    const t0 = performance.now();
    const r = await drive(size, SECONDS);
    const wall = (performance.now() - t0) / 1000;
    const cpuMs = (cpuSeconds(central.pid) - cpu0) * 1000;
    const row = {
      size,
      requestsPerS: r.requests / wall,
      rowsPerS: r.rows / wall,
      failed: r.failed,
      msPerRow: cpuMs / Math.max(1, r.rows),
      msPerRequest: cpuMs / Math.max(1, r.requests),
    };
    results.push(row);
    say(
      `| ${size} | ${row.requestsPerS.toFixed(1)} | ${row.rowsPerS.toFixed(1)} | ${r.failed} | ${
        row.msPerRow.toFixed(3)
      } | ${row.msPerRequest.toFixed(2)} |`,
    );
  }
  // Least squares over the sizes: CPU/s = a × requests/s + b × rows/s at a fixed row rate
  // reads as ms/row = a / size + b.
  if (results.length >= 2) {
    const xs = results.map((r) => 1 / r.size), ys = results.map((r) => r.msPerRow);
    const mx = xs.reduce((a, b) => a + b) / xs.length, my = ys.reduce((a, b) => a + b) / ys.length;
    const a = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) /
      xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    say("");
    say(`fit: ${a.toFixed(2)} ms per request + ${(my - a * mx).toFixed(3)} ms per row`);
  }
  console.log(JSON.stringify({ monitors: MONITORS, rowsPerS: RATE, idleMsPerS, results }));
} finally {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await sql.end();
  await scratch.drop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
