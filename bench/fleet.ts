/**
 * `deno task bench:fleet`: NMSlite polling a simulated Windows fleet end to end. The simulator
 * (winsim, HTTP only) and NMSlite (main.ts) each run in their own process; the bench
 * seeds a credential profile, a device and a monitor per simulated host, lets one interval
 * pass and waits until the first cycle's rows stop arriving late (settle()), measures for
 * `--duration` seconds from `GET /metrics`, then disables the monitors, waits for the queue to
 * drain and checks that every successful poll became exactly one row.
 *
 *   deno task bench:fleet -- --hosts 10000 --interval 60 [--duration 300]
 *     [--database-url postgres://…] [--auth ntlm|basic] [--pollers 2] [--concurrency 200]
 *     [--queue-burst 1.5s] [--scrape 5] [--base 127.1.0.1] [--sim-processes N] [--keep-logs]
 *     [--nofile N | --nofile SOFT:HARD]   (NMSlite's open-files limit, as `ulimit -n` sets it)
 *     [--https]  (NMSlite's API on its default HTTPS listener, self-signed certificate, instead
 *                 of plain HTTP: the bench's API probes then shake hands for every request)
 *     [--protocol winrm|wmi]   (wmi: `wmi` credential profiles, polled over DCOM on 135 plus
 *                               each simulated host's dynamic port)
 *     [--profile standard|extended|full]  (every monitor's collection profile)
 *     [--v8-prof DIR]  (V8's sampling profiler in NMSlite: one isolate-*.log per isolate in DIR,
 *                       for `node --prof-process`; the profile covers the whole run)
 *     [--v8-flags=F1,F2]  (more V8 flags for NMSlite, e.g. --v8-flags=--trace-gc with
 *                          --keep-logs: each isolate's collections, live heap and limits)
 *     [--silent N]  (N hosts, spread over the fleet, go silent before the warm-up: they accept
 *                    the connection and never answer, a site gone dark; the run is held when
 *                    the other hosts' polls keep up, and only timeouts fail)
 *
 * With PostgreSQL it also reports what the measured window added to the database: rows and
 * bytes per successful poll for each table of the metrics store, and MB per host per day.
 *
 * It reports even when the run falls short: scrapes and API calls that fail are counted (the
 * API is asked on a new connection every scrape, as a browser or curl would), a server that
 * died or a queue that did not drain is said in the verdict, and the figures measured up to
 * then are printed (CPU per process, failed polls by class, queue, lag, descriptors).
 *
 * With --database-url (or DATABASE_URL) a scratch database is created on that server and
 * dropped at the end; otherwise NMSlite uses its embedded PGlite. The hosts are split over as
 * many simulator processes as the open-files limit needs (a listener and a connection per
 * host); process i serves addresses from the base with its second octet raised by i.
 */
import { startChildServer } from "../scripts/child_server.ts";
import {
  cpuSeconds,
  createScratchDatabase,
  hostsPerSimulator,
  loadAverage,
  machineCpu,
  peakRssMB,
  postgresBackends,
  startSimulator,
  systemSeconds,
  threadCpuSeconds,
} from "./fleet_procs.ts";
import { login, seedFleet, setEnabled } from "./fleet_seed.ts";
import { observedAbove, type Scrape, scrape, shedBetween, value } from "./fleet_metrics.ts";
import { failureClasses, report, type RunResult } from "./fleet_report.ts";
import { alive, freshClient, newApiProbe, nofileOf, openFds, probeApi } from "./fleet_probe.ts";
import { storageGrowth, type StorageSnapshot, storageSnapshot } from "./fleet_storage.ts";
import {
  COLLECTION_PROFILES,
  type CollectionProfile,
} from "../lib/collectors/collection_profile.ts";

const args = Deno.args[0] === "--" ? Deno.args.slice(1) : [...Deno.args];
function option(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
}
const HOSTS = Number(option("hosts", "200"));
const INTERVAL = Number(option("interval", "60"));
const DURATION = Number(option("duration", "300"));
const SCRAPE = Number(option("scrape", "5"));
const AUTH = option("auth", "ntlm") as "ntlm" | "basic";
const PROTOCOL = option("protocol", "winrm") as "winrm" | "wmi";
const BASE = option("base", "127.1.0.1");
const SILENT = Number(option("silent", "0"));
const DATABASE_URL = option("database-url", Deno.env.get("DATABASE_URL") ?? "");
const KEEP_LOGS = args.includes("--keep-logs");
const HTTPS = args.includes("--https");
const V8_PROF = option("v8-prof", "");
const V8_FLAGS = [
  ...(V8_PROF ? ["--prof", `--logfile=${await Deno.realPath(V8_PROF)}/prof.log`] : []),
  ...(args.find((a) => a.startsWith("--v8-flags="))?.slice("--v8-flags=".length).split(",") ?? []),
];
const PROFILE = option("profile", "standard") as CollectionProfile;
if (!COLLECTION_PROFILES.includes(PROFILE)) {
  console.error(`--profile must be one of ${COLLECTION_PROFILES.join(", ")}`);
  Deno.exit(2);
}
let storage: { start: StorageSnapshot; end: StorageSnapshot; okPolls: number } | undefined;
// --nofile N (soft = hard = N, as `ulimit -n N`) or --nofile SOFT:HARD for the NMSlite process
const NOFILE = parseNofile(option("nofile", ""));
function parseNofile(v: string): { soft: number; hard: number } | undefined {
  if (!v) return undefined;
  const [soft, hard = soft] = v.split(":").map(Number);
  if (!(Number.isInteger(soft) && Number.isInteger(hard) && soft >= 64 && hard >= soft)) {
    console.error("--nofile takes N or SOFT:HARD (integers, 64 <= SOFT <= HARD)");
    Deno.exit(2);
  }
  return { soft, hard };
}
const SIM_PROCESSES = Number(
  // over WMI a simulated host has three listeners (HTTP, 135, its dynamic port), not one
  option(
    "sim-processes",
    String(Math.ceil(HOSTS / Math.floor(hostsPerSimulator() / (PROTOCOL === "wmi" ? 2 : 1)))),
  ),
);
// Polling settings: two poller Workers (one per core) and room for every poll of a burst.
const POLLING: Record<string, string> = {
  NMSLITE_POLLERS: option("pollers", "2"),
  NMSLITE_POLLER_CONCURRENCY: option("concurrency", "200"),
  NMSLITE_POLLER_QUEUE_BURST: option("queue-burst", "1.5s"),
  NMSLITE_POLL_PER_HOST_LIMIT: "2",
  NMSLITE_POLL_TIMEOUT: "30s",
  NMSLITE_POLL_RETRIES: "2",
};
if (
  !(HOSTS >= 1 && INTERVAL >= 10 && DURATION >= 10 && (AUTH === "ntlm" || AUTH === "basic") &&
    (PROTOCOL === "winrm" || PROTOCOL === "wmi") && Number.isInteger(SILENT) && SILENT >= 0 &&
    SILENT < HOSTS)
) {
  console.error(
    "usage: --hosts N (>= 1) --interval S (>= 10) [--duration S] [--auth ntlm|basic] [--protocol winrm|wmi] [--silent M (< N)]",
  );
  Deno.exit(2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}
const say = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

// Everything started is undone in reverse order, on success, failure and Ctrl-C alike.
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
const cleanup = () =>
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e) => say(`cleanup: ${e.message}`));
  })();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    say(`${sig}: stopping child processes`);
    cleanup().finally(() => Deno.exit(130));
  });
}

// A scrape that fails (a stalled or overloaded server) is counted and skipped, never fatal:
// the run goes on to its end and reports what it saw.
let missedScrapes = 0;
/** the kept-alive client of the bench's API calls and scrapes (over HTTPS it trusts the server) */
let apiClient: Deno.HttpClient | undefined;
async function tryScrape(url: string): Promise<Scrape | undefined> {
  try {
    return await scrape(url, apiClient);
  } catch (err) {
    missedScrapes++;
    say(`  scrape failed: ${(err as Error).message}`);
    return undefined;
  }
}

/** How long a row may take from due time to commit and still count as the steady state. */
const SETTLED_ROW_S = 5;
/** The stretch of scrapes (5 s apart) that must look steady. */
const SETTLED_STRETCH_S = 10;
/** How long past the first interval the warm-up waits for the steady state, at most. */
const SETTLE_MAX_S = Math.max(2 * INTERVAL, 60);

/**
 * Waits, after the first interval, until the first cycle has settled: the first poll of each
 * host opens its connection (TCP, and NTLM's handshake), so at a large fleet the cycle's last
 * rows can commit well after one interval (50,000 hosts with 400 polls in flight a Worker:
 * rows up to 30 s late for ~25 s past it), and a window that starts among them reports the
 * first cycle's tail as its poll-to-row p99. Settled: over the last SETTLED_STRETCH_S at least
 * half the rows due were committed, none took over SETTLED_ROW_S from due time to commit, and no
 * poll was shed (a host whose first poll was shed opens its connection later, inside the window).
 * At most two more intervals (a minute at least): a fleet that never settles is measured anyway,
 * and says so.
 */
async function settle(url: string): Promise<void> {
  const deadline = performance.now() + SETTLE_MAX_S * 1000;
  const due = (HOSTS - SILENT) / INTERVAL * SETTLED_STRETCH_S;
  const stretch: (Scrape | undefined)[] = [await tryScrape(url)];
  while (performance.now() < deadline) {
    await sleep(5_000);
    stretch.push(await tryScrape(url));
    if (stretch.length <= SETTLED_STRETCH_S / 5) continue;
    const before = stretch.shift();
    const now = stretch[stretch.length - 1];
    if (!before || !now) continue;
    const rows = observedAbove(before, now, "nmslite_poll_to_row_seconds", SETTLED_ROW_S);
    const shed = shedBetween(before, now);
    if (rows.count >= due / 2 && rows.above === 0 && shed === 0) return;
    say(
      `  first cycle not settled: ${rows.count} rows in ${SETTLED_STRETCH_S} s (${
        Math.round(due)
      } due), ${rows.above} of them over ${SETTLED_ROW_S} s from due time to commit, ${shed} shed`,
    );
  }
  say(`  not settled after ${INTERVAL + SETTLE_MAX_S} s; measuring anyway`);
}

async function run(): Promise<RunResult> {
  const tmp = await Deno.makeTempDir({ prefix: "nmslite-fleet-" });
  cleanups.push(() =>
    KEEP_LOGS ? Promise.resolve(say(`logs kept in ${tmp}`)) : Deno.remove(tmp, { recursive: true })
  );
  const password = `Sim-${crypto.randomUUID()}`;
  let databaseUrl: string | undefined;
  let databaseName = "";
  if (DATABASE_URL) {
    const scratch = await createScratchDatabase(DATABASE_URL);
    cleanups.push(() => scratch.drop());
    databaseUrl = scratch.url;
    databaseName = new URL(scratch.url).pathname.slice(1);
  }

  say(`starting ${SIM_PROCESSES} simulator process(es) with ${HOSTS} hosts from ${BASE}`);
  const octets = BASE.split(".").map(Number);
  const sims = await Promise.all(Array.from({ length: SIM_PROCESSES }, async (_, i) => {
    const hosts = Math.floor(HOSTS / SIM_PROCESSES) + (i < HOSTS % SIM_PROCESSES ? 1 : 0);
    const base = [octets[0], octets[1] + i, octets[2], octets[3]].join(".");
    const logDir = await Deno.makeTempDir({ dir: tmp, prefix: `winsim-${i}-` });
    const sim = await startSimulator({ hosts, base, password, logDir, wmi: PROTOCOL === "wmi" });
    cleanups.push(() => sim.stop());
    return sim;
  }));
  say("starting NMSlite");
  const server = await startChildServer({
    databaseUrl,
    logLevel: "warning",
    env: POLLING,
    nofile: NOFILE,
    https: HTTPS,
    ...(V8_FLAGS.length ? { v8Flags: V8_FLAGS } : {}),
  });
  cleanups.push(async () => {
    if (KEEP_LOGS) await Deno.copyFile(server.logPath, `${tmp}/nmslite.log`).catch(() => {});
    await server.stop();
  });
  // over HTTPS every client of the bench trusts the server's self-signed certificate
  apiClient = server.caCert ? Deno.createHttpClient({ caCerts: [server.caCert] }) : undefined;
  const probeClient = freshClient(server.caCert);
  cleanups.push(() => {
    apiClient?.close();
    probeClient.close();
    return Promise.resolve();
  });
  const session = await login(server, apiClient);

  say(
    `seeding ${HOSTS} devices and monitors (interval ${INTERVAL} s, ${
      PROTOCOL === "wmi" ? "WMI over DCOM" : AUTH
    }, ${PROFILE})`,
  );
  const seeded = await seedFleet(session, {
    profile: PROFILE,
    hosts: sims.flatMap((s) => s.hosts),
    intervalSeconds: INTERVAL,
    auth: AUTH,
    protocol: PROTOCOL,
    username: "Administrator",
    password,
    concurrency: 16,
    onProgress: (n) => say(`  ${n} monitors created`),
  });
  say(`seeded in ${seeded.seconds.toFixed(1)} s`);
  if (SILENT) {
    // every (HOSTS / SILENT)-th host: spread over the simulator processes and poller Workers
    const all = sims.flatMap((s) => s.hosts.map((ip) => ({ ip, control: s.control })));
    const silent = Array.from({ length: SILENT }, (_, k) => all[Math.floor(k * HOSTS / SILENT)]);
    await pool(silent, 16, async ({ ip, control }) => {
      const res = await fetch(`${control}/fault`, {
        method: "POST",
        body: JSON.stringify({ ip, fault: { kind: "hang" } }),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`simulator fault for ${ip}: HTTP ${res.status}`);
    });
    say(`${SILENT} hosts went silent (they accept and never answer)`);
  }
  say(`warm-up ${INTERVAL} s`);
  const warmStart = performance.now();
  await sleep(INTERVAL * 1000);
  await settle(server.url);
  const warmupSeconds = (performance.now() - warmStart) / 1000;

  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  // PostgreSQL's share is its backends for the scratch database (its pool is open by now).
  const backends = databaseName ? postgresBackends(databaseName) : [];
  const cpu = () => ({
    nmslite: cpuSeconds(server.pid),
    nmsliteKernel: systemSeconds(server.pid),
    simulator: sum(sims.map((s) => cpuSeconds(s.pid))),
    postgres: sum(backends.map(cpuSeconds).filter(Number.isFinite)),
    bench: cpuSeconds(Deno.pid),
    machine: machineCpu().busy,
  });
  // Counters summed over the simulator processes.
  const simStats = async () => {
    const totals: Record<string, number> = {};
    for (const s of sims) {
      try {
        const t = await (await fetch(`${s.control}/stats`)).json();
        for (const [k, v] of Object.entries(t)) totals[k] = (totals[k] ?? 0) + (v as number);
      } catch (err) {
        say(`  simulator stats: ${(err as Error).message}`);
      }
    }
    return totals;
  };
  const simStart = await simStats();
  const threadsStart = threadCpuSeconds(server.pid);
  const loadStart = loadAverage();
  const cpuStart = cpu();
  const nofile = nofileOf(server.pid);
  let [cpuLast, threadsLast] = [cpuStart, threadsStart];
  const storageStart = databaseUrl ? await storageSnapshot(databaseUrl) : undefined;
  const measureStart = Date.now();
  const first = await tryScrape(server.url);
  const scrapes: Scrape[] = first ? [first] : [];
  const api = newApiProbe();
  let fdsMax = openFds(server.pid);
  say(`measuring for ${DURATION} s`);
  while (Date.now() - measureStart < DURATION * 1000) {
    await sleep(Math.max(0, Math.min(SCRAPE * 1000, measureStart + DURATION * 1000 - Date.now())));
    // the API as a new client sees it: a health check and a page of devices
    await probeApi(api, probeClient, "GET /health", `${server.url}/health`);
    await probeApi(
      api,
      probeClient,
      "GET /api/v1/devices",
      `${server.url}/api/v1/devices?limit=50`,
      await session.freshToken(),
    );
    fdsMax = Math.max(fdsMax, openFds(server.pid) || 0);
    // NMSlite's CPU as last seen alive: a process that died mid-run still gets its figures
    if (alive(server.pid)) [cpuLast, threadsLast] = [cpu(), threadCpuSeconds(server.pid)];
    const s = await tryScrape(server.url);
    if (!s) {
      if (!alive(server.pid)) say("  NMSlite is gone");
      continue;
    }
    const prev = scrapes[scrapes.length - 1];
    scrapes.push(s);
    if (!prev) continue;
    const ok = value(s, "nmslite_polls_total", 'outcome="ok"') -
      value(prev, "nmslite_polls_total", 'outcome="ok"');
    say(
      `  ${((s.at - measureStart) / 1000).toFixed(0)} s: ok ${
        (ok / ((s.at - prev.at) / 1000)).toFixed(0)
      }/s, failed ${value(s, "nmslite_polls_total", 'outcome="failed"')} (${
        failureClasses(s)
      }), shed ${shedBetween(prev, s)}, lag p99 ${
        value(s, "nmslite_scheduler_lag_seconds", 'quantile="0.99"').toFixed(2)
      } s, in flight ${value(s, "nmslite_polls_in_flight")}, queued ${
        value(s, "nmslite_polls_queued")
      }, queue depth ${value(s, "nmslite_queue_depth")}, fds ${
        openFds(server.pid)
      }, API ${api.ok} ok ${api.failed} failed`,
    );
  }
  const [cpuEnd, threadsEnd] = alive(server.pid)
    ? [cpu(), threadCpuSeconds(server.pid)]
    : [cpuLast, threadsLast];
  const loadEnd = loadAverage();
  const simEnd = await simStats();

  // Stop new polls, then wait until nothing runs, nothing waits and the counters stand still
  // over more than one poller stats period (5 s), so ok polls and rows are final.
  say("disabling every monitor and waiting for the queue to drain");
  const disabled = alive(server.pid)
    ? await setEnabled(session, seeded.monitorIds, false)
    : { failed: seeded.monitorIds.length, firstError: "NMSlite is gone" };
  // the drain's deadline starts once every monitor is disabled
  const drainStarted = performance.now();
  if (disabled.failed) {
    say(`  ${disabled.failed} monitors could not be disabled (${disabled.firstError})`);
  }
  let final = await tryScrape(server.url) ?? scrapes[scrapes.length - 1];
  const key = (s: Scrape) =>
    ["ok", "failed"].map((o) => value(s, "nmslite_polls_total", `outcome="${o}"`)).concat(
      ["inserted", "duplicate", "orphaned"].map((r) =>
        value(s, "nmslite_writer_rows_total", `result="${r}"`)
      ),
    ).join(",");
  let drained = false;
  while (!drained && performance.now() - drainStarted < 180_000 && alive(server.pid)) {
    await sleep(6_000);
    const s = await tryScrape(server.url);
    if (!s) continue;
    drained = !!final && key(s) === key(final) && value(s, "nmslite_polls_in_flight") === 0 &&
      value(s, "nmslite_polls_queued") === 0 && value(s, "nmslite_queue_depth") === 0;
    final = s;
  }
  if (!drained) {
    say("  the queue did not drain (or NMSlite stopped answering): figures are partial");
  }
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  if (storageStart && databaseUrl && first && final) {
    // every poll of the window is committed now; a poll's rows commit after it counts, so the
    // polls counted from the first scrape to the drained end match the rows added since
    storage = {
      start: storageStart,
      end: await storageSnapshot(databaseUrl),
      okPolls: value(final, "nmslite_polls_total", 'outcome="ok"') -
        value(first, "nmslite_polls_total", 'outcome="ok"'),
    };
  }
  return {
    drained,
    serverAlive: alive(server.pid),
    api,
    fds: { max: fdsMax, limit: nofile },
    hosts: HOSTS,
    silent: SILENT,
    interval: INTERVAL,
    warmupSeconds,
    duration: DURATION,
    auth: AUTH,
    apiScheme: HTTPS ? "https" : "http",
    database: server.databaseKind,
    polling: POLLING,
    seedSeconds: seeded.seconds,
    scrapes,
    final,
    drainSeconds,
    missedScrapes,
    cpu: { start: cpuStart, end: cpuEnd },
    peakMB: { nmslite: peakRssMB(server.pid), simulator: sum(sims.map((s) => peakRssMB(s.pid))) },
    sim: { start: simStart, end: simEnd, processes: sims.length },
    threads: { start: threadsStart, end: threadsEnd },
    load: { start: loadStart, end: loadEnd },
  };
}

let code = 0;
try {
  console.log(report(await run()));
  if (storage && storage.okPolls > 0) {
    console.log(
      `\nstorage added by ${storage.okPolls} successful polls (profile ${PROFILE}):\n` +
        storageGrowth(storage.start, storage.end, storage.okPolls),
    );
  } else console.log(`\nprofile ${PROFILE} (storage growth needs --database-url)`);
} catch (err) {
  console.error(`bench:fleet failed: ${(err as Error).stack ?? err}`);
  code = 1;
} finally {
  await cleanup();
}
Deno.exit(code);
