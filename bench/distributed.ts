/**
 * `deno task bench:distributed -- [--hosts 2000] [--nodes 2] [--seconds 120] [--interval 60]
 *   [--base 127.2.0.1] [--warmup 30] [--v8-prof DIR] [--central-v8-flags=F1,F2]
 *   [--central-inspect PORT]`
 *
 * The distributed shape on this machine: one central process (`--role central`, HTTPS), poller
 * nodes (`poller.ts`) splitting one site's hosts, and the simulated hosts (winsim, its own
 * process), on the PostgreSQL of BENCH_DATABASE_URL or TEST_DATABASE_URL (a scratch database).
 * After a warm-up it measures a window and prints: rows ingested, polls, rows lost or
 * duplicated, the central's CPU per ingested row and each node's CPU per poll.
 * `--v8-prof DIR` runs the central under V8's sampling profiler (its main isolate's log in DIR,
 * for `node --prof-process`; the profile covers the whole run, seeding included).
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { cpuSeconds, hostsPerSimulator, startSimulator } from "./fleet_procs.ts";
import { fmt, histogramQuantile, parseProm, type Scrape } from "./fleet_metrics.ts";
import { createScratchDatabase } from "../tests/helpers/databases.ts";
import {
  apiCaller,
  benchSite,
  eventually,
  makeTls,
  startCentral,
  startNode,
} from "../tests/helpers/distributed.ts";

const argv = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
const { values } = parseArgs({
  args: argv,
  options: {
    hosts: { type: "string", default: "2000" },
    nodes: { type: "string", default: "2" },
    seconds: { type: "string", default: "120" },
    interval: { type: "string", default: "60" },
    warmup: { type: "string", default: "30" },
    base: { type: "string", default: "127.2.0.1" },
    "v8-prof": { type: "string", default: "" },
    "central-v8-flags": { type: "string", default: "" },
    "central-inspect": { type: "string", default: "" },
  },
});
const HOSTS = Number(values.hosts);
const NODES = Number(values.nodes);
const SECONDS = Number(values.seconds);
const INTERVAL = Number(values.interval);
const say = (s: string) => console.log(s);

const adminUrl = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL");
if (!adminUrl) {
  console.error("set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL server");
  Deno.exit(2);
}
const dir = await Deno.makeTempDir({ prefix: "nmslite-bench-dist-" });
const scratch = await createScratchDatabase("nmslite_benchdist", adminUrl);
const sql = postgres(scratch.url, { max: 2, onnotice: () => {} });
const password = "Bench-Passw0rd!";
const cleanup: (() => Promise<void>)[] = [];
try {
  // as many simulator processes as the open-files limit needs (a listener and a connection per
  // host); process i serves addresses from the base with its second octet raised by i
  const simProcesses = Math.ceil(HOSTS / hostsPerSimulator());
  say(`simulator: ${HOSTS} hosts from ${values.base} in ${simProcesses} process(es)`);
  const octets = values.base!.split(".").map(Number);
  const sims = await Promise.all(Array.from({ length: simProcesses }, async (_, i) => {
    const hosts = Math.floor(HOSTS / simProcesses) + (i < HOSTS % simProcesses ? 1 : 0);
    const base = [octets[0], octets[1] + i, octets[2], octets[3]].join(".");
    const logDir = await Deno.makeTempDir({ dir, prefix: `winsim-${i}-` });
    const sim = await startSimulator({ hosts, base, password, logDir });
    cleanup.push(() => sim.stop());
    return sim;
  }));
  const simHosts = sims.flatMap((s) => s.hosts);
  const simCpu = () => sims.reduce((t, s) => t + cpuSeconds(s.pid), 0);
  const tls = await makeTls(dir);
  const central = await startCentral({
    databaseUrl: scratch.url,
    dir,
    name: "central",
    tls,
    env: { NMSLITE_LOG_LEVEL: "error" },
    v8Flags: [
      ...(values["v8-prof"]
        ? ["--prof", `--logfile=${values["v8-prof"]}/central-%p.log`, "--no-logfile-per-isolate"]
        : []),
      ...values["central-v8-flags"]!.split(",").filter((f) => f),
    ],
    inspect: values["central-inspect"] ? Number(values["central-inspect"]) : undefined,
  });
  cleanup.push(() => central.stop());
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  const api = apiCaller(central.url, client);
  const call = async (method: string, path: string, body?: unknown, token?: string) =>
    (await api(method, path, body, token)).body;
  const { token, site, cred } = await benchSite(api, "bench", password);
  // Devices and monitors straight into the tables: the API would take minutes for thousands.
  await sql`INSERT INTO devices (ip, site_id, status)
    SELECT ip::inet, ${site}, 'monitoring' FROM unnest(${simHosts}::text[]) AS ip`;
  await sql`INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval)
    SELECT d.id, ${cred}, 1, ${INTERVAL} FROM devices d WHERE d.site_id = ${site}`;
  const nodes: Awaited<ReturnType<typeof startNode>>[] = [];
  for (let i = 0; i < NODES; i++) {
    const n = (await call("POST", "/poller-nodes", { site_id: site, name: `bench-${i}` }, token))
      .data;
    const node = await startNode({
      centralUrl: central.url,
      dir,
      name: `node-${i}`,
      caFile: tls.certFile,
      enrolmentToken: n.enrolment_token,
      env: {
        NMSLITE_LOG_LEVEL: "error",
        NMSLITE_POLLERS: "2",
        NMSLITE_POLL_TIMEOUT: "20s",
        NMSLITE_POLL_RETRIES: "1",
      },
    });
    nodes.push(node);
    cleanup.push(() => node.stop());
  }
  // (the nodes read their assignment when they connect, so the rows written above count)
  const anyMonitor = (await sql`SELECT id FROM monitors LIMIT 1`)[0].id;
  await eventually("every monitor assigned", async () => {
    let n = 0;
    for (const node of nodes) n += (await node.metrics()).nmslite_node_monitors;
    return n === HOSTS;
  }, 120_000);
  say(`${NODES} nodes hold ${HOSTS} monitors; warming up ${values.warmup} s`);
  await new Promise((r) => setTimeout(r, Number(values.warmup) * 1000));

  const rows = async () => (await sql`SELECT count(*)::int AS n FROM metrics`)[0].n;
  // the central's own metrics: poll-to-row there runs from the poll's due time on the node to
  // the row's commit on the central (node scheduling, the poll, the buffer, shipping, commit)
  const centralMetrics = async (): Promise<Scrape> => {
    const res = await fetch(`${central.url}/metrics`, { client } as RequestInit);
    if (res.status !== 200) throw new Error(`central /metrics: HTTP ${res.status}`);
    return parseProm(await res.text());
  };
  // every reading at once, so that they cover the same moment; the window is measured between
  // the two snapshots (a slow scrape under load must not count as polls of a longer window)
  const snap = async () => {
    const at = performance.now();
    const [r, c, m] = await Promise.all([
      rows(),
      centralMetrics(),
      Promise.all(nodes.map((n) => n.metrics())),
    ]);
    return {
      at,
      rows: r,
      central: c,
      centralCpu: cpuSeconds(central.pid),
      simCpu: simCpu(),
      nodes: nodes.map((n, i) => ({ cpu: cpuSeconds(n.pid), m: m[i] })),
    };
  };
  const a = await snap();
  const windowStart = new Date();
  say(`measuring for ${SECONDS} s`);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const b = await snap();
  const windowEnd = new Date();
  // every monitor polls once an interval: more rows than that in the window is a double poll
  const [perMonitor] = await sql`SELECT coalesce(max(n), 0)::int AS max,
      count(*) FILTER (WHERE n > ${Math.ceil(SECONDS / INTERVAL) + 1})::int AS over
    FROM (SELECT count(*) AS n FROM metrics WHERE ts >= ${windowStart} AND ts < ${windowEnd}
          GROUP BY monitor_id) t`;

  // settle: stop polling, let the buffers drain, then compare rows with successful polls
  await sql`UPDATE monitors SET enabled = false`;
  // written behind the central's back: one change through the API makes it reassign
  await call("PUT", `/monitors/${anyMonitor}`, { enabled: false }, token);
  await eventually("buffers drained", async () => {
    for (const n of nodes) {
      const m = await n.metrics();
      if (m.nmslite_node_monitors !== 0 || m.nmslite_node_buffered_batches !== 0) return false;
    }
    return true;
  }, 180_000);
  await new Promise((r) => setTimeout(r, 3_000));
  let okPolls = 0;
  for (const n of nodes) okPolls += (await n.metrics()).nmslite_node_polls_ok_total;
  const [d] = await sql`SELECT count(*)::int AS n, count(DISTINCT (monitor_id, ts))::int AS u
    FROM metrics`;

  const ingested = b.rows - a.rows;
  const elapsed = (b.at - a.at) / 1000;
  const p2r = (q: number) =>
    histogramQuantile(a.central, b.central, "nmslite_poll_to_row_seconds", q);
  let windowPolls = 0;
  let windowFailed = 0;
  b.nodes.forEach((nb, i) => {
    const polls = nb.m.nmslite_node_polls_total - a.nodes[i].m.nmslite_node_polls_total;
    windowPolls += polls;
    windowFailed += polls -
      (nb.m.nmslite_node_polls_ok_total - a.nodes[i].m.nmslite_node_polls_ok_total);
  });
  const centralMs = (b.centralCpu - a.centralCpu) * 1000;
  let requests = 0;
  let heartbeats = 0;
  b.nodes.forEach((nb, i) => {
    requests += nb.m.nmslite_node_shipped_requests_total -
      a.nodes[i].m.nmslite_node_shipped_requests_total;
    heartbeats += (nb.m.nmslite_node_heartbeat_requests_total ?? 0) -
      (a.nodes[i].m.nmslite_node_heartbeat_requests_total ?? 0);
  });
  say("");
  say(`| figure | value |`);
  say(`|---|---|`);
  say(`| hosts / nodes / interval | ${HOSTS} / ${NODES} / ${INTERVAL} s |`);
  say(`| window | ${elapsed.toFixed(1)} s |`);
  say(`| rows ingested in the window | ${ingested} (${(ingested / elapsed).toFixed(1)}/s) |`);
  say(`| central CPU per ingested row | ${(centralMs / Math.max(1, ingested)).toFixed(3)} ms |`);
  say(
    `| ingest requests from the nodes | ${(requests / elapsed).toFixed(1)}/s, ${
      (ingested / Math.max(1, requests)).toFixed(0)
    } rows each |`,
  );
  say(`| heartbeat requests from the nodes | ${(heartbeats / elapsed).toFixed(2)}/s |`);
  b.nodes.forEach((nb, i) => {
    const na = a.nodes[i];
    const polls = nb.m.nmslite_node_polls_total - na.m.nmslite_node_polls_total;
    const ms = (nb.cpu - na.cpu) * 1000;
    say(`| node ${i} CPU per poll | ${(ms / Math.max(1, polls)).toFixed(2)} ms (${polls} polls) |`);
  });
  const classes = new Map<string, number>();
  b.nodes.forEach((nb, i) => {
    for (const [k, v] of Object.entries(nb.m)) {
      const cls = k.match(/^nmslite_node_polls_failed_total\{class="(\w+)"\}$/)?.[1];
      if (cls) classes.set(cls, (classes.get(cls) ?? 0) + v - (a.nodes[i].m[k] ?? 0));
    }
  });
  const byClass = [...classes].filter(([, n]) => n > 0).map(([c, n]) => `${c} ${n}`).join(", ");
  say(
    `| polls in the window: all / failed (by class) | ${windowPolls} / ${windowFailed}${
      byClass ? ` (${byClass})` : ""
    } |`,
  );
  say(
    `| poll-to-row p50 / p99 (due on the node to row on the central) | ${
      fmt(p2r(0.5).value, 2)
    } / ${fmt(p2r(0.99).value, 2)} s |`,
  );
  say(
    `| simulator CPU per poll | ${
      ((b.simCpu - a.simCpu) * 1000 / Math.max(1, windowPolls)).toFixed(2)
    } ms |`,
  );
  say(
    `| rows per monitor in the window: max / monitors over ${
      Math.ceil(SECONDS / INTERVAL) + 1
    } | ${perMonitor.max} / ${perMonitor.over} |`,
  );
  say(`| rows vs successful polls (whole run) | ${d.n} / ${okPolls} (lost ${okPolls - d.n}) |`);
  say(`| duplicate rows | ${d.n - d.u} |`);
  const expected = (HOSTS / INTERVAL) * elapsed;
  const held = ingested >= expected * 0.98 && windowFailed === 0 && p2r(0.99).value < 2 &&
    okPolls === d.n && d.n === d.u && perMonitor.over === 0;
  say("");
  say(
    `${held ? "HELD" : "NOT HELD"}: ${(ingested / elapsed).toFixed(1)} rows/s of ${
      (HOSTS / INTERVAL).toFixed(1)
    } expected, ${windowFailed} failed, poll-to-row p99 ${
      fmt(p2r(0.99).value, 2)
    } s (target < 2), lost ${okPolls - d.n}, duplicated ${d.n - d.u}`,
  );
  client.close();
} finally {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await sql.end();
  await scratch.drop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
