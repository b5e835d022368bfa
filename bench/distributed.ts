/**
 * `deno task bench:distributed -- [--hosts 2000] [--nodes 2] [--seconds 120] [--interval 60]
 *   [--base 127.2.0.1] [--warmup 30]`
 *
 * The distributed shape on this machine: one central process (`--role central`, HTTPS), poller
 * nodes (`poller.ts`) splitting one site's hosts, and the simulated hosts (winsim, its own
 * process), on the PostgreSQL of BENCH_DATABASE_URL or TEST_DATABASE_URL (a scratch database).
 * After a warm-up it measures a window and prints: rows ingested, polls, rows lost or
 * duplicated, the central's CPU per ingested row and each node's CPU per poll.
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { cpuSeconds, startSimulator } from "./fleet_procs.ts";
import { createScratchDatabase } from "../tests/helpers/databases.ts";
import {
  ADMIN_PASSWORD,
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
  say(`simulator: ${HOSTS} hosts from ${values.base}`);
  const sim = await startSimulator({ hosts: HOSTS, base: values.base!, password, logDir: dir });
  cleanup.push(() => sim.stop());
  const tls = await makeTls(dir);
  const central = await startCentral({
    databaseUrl: scratch.url,
    dir,
    name: "central",
    tls,
    env: { NMSLITE_LOG_LEVEL: "error" },
  });
  cleanup.push(() => central.stop());
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(`${central.url}/api/v1${path}`, {
      method,
      client,
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    } as RequestInit);
    return await res.json();
  };
  const token = (await call("POST", "/auth/login", { username: "admin", password: ADMIN_PASSWORD }))
    .data.access_token;
  const site = (await call("POST", "/sites", { name: "bench" }, token)).data.id;
  const cred = (await call("POST", "/credential-profiles", {
    name: "bench",
    type: "winrm_ntlm",
    username: "Administrator",
    password,
    port: 5985,
  }, token)).data.id;
  // Devices and monitors straight into the tables: the API would take minutes for thousands.
  await sql`INSERT INTO devices (ip, site_id, status)
    SELECT ip::inet, ${site}, 'monitoring' FROM unnest(${sim.hosts}::text[]) AS ip`;
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
  const snap = async () => ({
    rows: await rows(),
    centralCpu: cpuSeconds(central.pid),
    nodes: await Promise.all(nodes.map(async (n) => ({
      cpu: cpuSeconds(n.pid),
      m: await n.metrics(),
    }))),
  });
  const a = await snap();
  say(`measuring for ${SECONDS} s`);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const b = await snap();

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
  const centralMs = (b.centralCpu - a.centralCpu) * 1000;
  say("");
  say(`| figure | value |`);
  say(`|---|---|`);
  say(`| hosts / nodes / interval | ${HOSTS} / ${NODES} / ${INTERVAL} s |`);
  say(`| window | ${SECONDS} s |`);
  say(`| rows ingested in the window | ${ingested} (${(ingested / SECONDS).toFixed(1)}/s) |`);
  say(`| central CPU per ingested row | ${(centralMs / Math.max(1, ingested)).toFixed(3)} ms |`);
  b.nodes.forEach((nb, i) => {
    const na = a.nodes[i];
    const polls = nb.m.nmslite_node_polls_total - na.m.nmslite_node_polls_total;
    const ms = (nb.cpu - na.cpu) * 1000;
    say(`| node ${i} CPU per poll | ${(ms / Math.max(1, polls)).toFixed(2)} ms (${polls} polls) |`);
  });
  say(`| rows vs successful polls (whole run) | ${d.n} / ${okPolls} (lost ${okPolls - d.n}) |`);
  say(`| duplicate rows | ${d.n - d.u} |`);
  client.close();
} finally {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await sql.end();
  await scratch.drop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
