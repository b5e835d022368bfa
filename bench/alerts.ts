/**
 * `deno task bench:alerts`: what alert evaluation costs a polled fleet. Two runs of the same
 * fleet (simulator processes + NMSlite, as bench:fleet): one with every rule disabled, one with
 * the default rules plus 20 more and a webhook channel to a receiver in this process. In the
 * second, `--crossings` hosts have their C: pinned past a bench rule's threshold a third into
 * the measurement. It reports the evaluation CPU per committed sample (the evaluator's own
 * clock, nmslite_alert_evaluation_seconds_total / nmslite_alert_samples_total), the time from
 * the sample that opened a problem to its webhook at the receiver (p50/p99), and scheduler lag
 * and poll-to-row latency of both runs side by side.
 *
 *   deno task bench:alerts -- --hosts 10000 --interval 60 [--duration 300] [--crossings 20]
 *     [--database-url postgres://…] [--pollers 2] [--concurrency 200]
 */
import { startChildServer } from "../scripts/child_server.ts";
import {
  cpuSeconds,
  createScratchDatabase,
  hostsPerSimulator,
  startSimulator,
} from "./fleet_procs.ts";
import { login, seedFleet } from "./fleet_seed.ts";
import { fmt, histogramQuantile, type Scrape, scrape, value } from "./fleet_metrics.ts";

const args = Deno.args[0] === "--" ? Deno.args.slice(1) : [...Deno.args];
function option(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
}
const HOSTS = Number(option("hosts", "10000"));
const INTERVAL = Number(option("interval", "60"));
const DURATION = Number(option("duration", "300"));
const CROSSINGS = Number(option("crossings", "20"));
const DATABASE_URL = option("database-url", Deno.env.get("DATABASE_URL") ?? "");
const BASE = option("base", "127.1.0.1");
const SIM_PROCESSES = Math.ceil(HOSTS / hostsPerSimulator());
const POLLING: Record<string, string> = {
  NMSLITE_POLLERS: option("pollers", "2"),
  NMSLITE_POLLER_CONCURRENCY: option("concurrency", "200"),
  NMSLITE_POLL_PER_HOST_LIMIT: "2",
  NMSLITE_POLL_TIMEOUT: "30s",
  NMSLITE_POLL_RETRIES: "2",
  NMSLITE_ALERTING_TICK: "5s",
};
const BENCH_RULE = "bench: C: above 97 %";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** The 20 rules added to the defaults: every metric, several scopes and durations. */
function extraRules(deviceId: number) {
  const r = (
    name: string,
    metric: string,
    operator: string,
    threshold: number,
    for_seconds = 0,
    scope: Record<string, unknown> = { kind: "all" },
  ) => ({ name, metric, operator, threshold, for_seconds, severity: "warning", scope });
  return [
    r("cpu 95 for 10m", "cpu_percent", ">", 95, 600),
    r("cpu 99 for 2m", "cpu_percent", ">=", 99, 120),
    r("cpu tagged", "cpu_percent", ">", 80, 300, { kind: "tag", tag: "prod" }),
    r("memory 95", "memory_percent", ">", 95, 300),
    r("memory one device", "memory_percent", ">", 50, 0, { kind: "device", device_id: deviceId }),
    r("volume 95", "volume_used_percent", ">", 95, 60),
    r("volume free 1 %", "volume_free_percent", "<", 1),
    r("volume free 1 GB", "volume_free_bytes", "<", 1_000_000_000),
    r("volume free 10 GB tagged", "volume_free_bytes", "<", 1e10, 0, { kind: "tag", tag: "db" }),
    r("nic 90 %", "interface_utilization", ">", 90, 300),
    r("nic 99 %", "interface_utilization", ">=", 99, 60),
    r("nic errors", "interface_errors_per_s", ">", 10, 120),
    r("nic discards", "interface_discards_per_s", ">", 10, 120),
    r("processes 2000", "process_count", ">", 2000, 300),
    r("processes 50 low", "process_count", "<", 50, 300),
    r("slow poll", "poll_duration_ms", ">", 20_000, 300),
    r("very slow poll", "poll_duration_ms", ">", 60_000),
    r("failing 5", "monitor_failing", ">=", 5),
    r("no data 3", "no_data", ">=", 3),
    r(BENCH_RULE, "volume_used_percent", ">", 97),
  ];
}

interface RunFigures {
  label: string;
  samples: number;
  evalSeconds: number;
  evaluations: number;
  nmsliteCpu: number;
  lagP99: number;
  pollToRow: { p50: number; p99: number; over: boolean };
  okPolls: number;
  latencies: number[];
  webhooks: number;
}

async function run(withRules: boolean): Promise<RunFigures> {
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const tmp = await Deno.makeTempDir({ prefix: "nmslite-alerts-" });
    cleanups.push(() => Deno.remove(tmp, { recursive: true }));
    let databaseUrl: string | undefined;
    if (DATABASE_URL) {
      const scratch = await createScratchDatabase(DATABASE_URL);
      cleanups.push(() => scratch.drop());
      databaseUrl = scratch.url;
    }
    const password = `Sim-${crypto.randomUUID()}`;
    const octets = BASE.split(".").map(Number);
    say(`${withRules ? "rules" : "no rules"}: ${SIM_PROCESSES} simulator(s), ${HOSTS} hosts`);
    const sims = await Promise.all(Array.from({ length: SIM_PROCESSES }, async (_, i) => {
      const hosts = Math.floor(HOSTS / SIM_PROCESSES) + (i < HOSTS % SIM_PROCESSES ? 1 : 0);
      const base = [octets[0], octets[1] + i, octets[2], octets[3]].join(".");
      const logDir = await Deno.makeTempDir({ dir: tmp, prefix: `winsim-${i}-` });
      const sim = await startSimulator({ hosts, base, password, logDir });
      cleanups.push(() => sim.stop());
      return sim;
    }));
    const server = await startChildServer({ databaseUrl, logLevel: "warning", env: POLLING });
    cleanups.push(() => server.stop());
    const api = await login(server);

    // The webhook receiver: when each notification arrived.
    const arrivals: { at: number; n: Record<string, unknown> }[] = [];
    const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const n = await req.json();
      arrivals.push({ at: Date.now(), n });
      return new Response("ok");
    });
    cleanups.push(() => receiver.shutdown());

    const seeded = await seedFleet(api, {
      hosts: sims.flatMap((s) => s.hosts),
      intervalSeconds: INTERVAL,
      auth: "ntlm",
      username: "Administrator",
      password,
      concurrency: 16,
      onProgress: (n) => n % 250 === 0 && say(`  ${n} monitors`),
    });
    const rules = (await api.call("GET", "/alert-rules?limit=500")).json.data as {
      id: number;
    }[];
    if (withRules) {
      const first = (await api.call("GET", "/devices?limit=1")).json.data[0].id;
      for (const rule of extraRules(first)) {
        const res = await api.call("POST", "/alert-rules", rule);
        if (res.status !== 201) throw new Error(`rule ${rule.name}: ${JSON.stringify(res.json)}`);
      }
      const channel = await api.call("POST", "/notification-channels", {
        name: "bench",
        type: "webhook",
        settings: { url: `http://127.0.0.1:${receiver.addr.port}/hook` },
      });
      await api.call("POST", "/notification-policies", {
        name: "bench",
        channel_id: channel.json.data.id,
      });
    } else {
      for (const r of rules) await api.call("DELETE", `/alert-rules/${r.id}`);
    }
    say(`  seeded in ${seeded.seconds.toFixed(0)} s; warm-up ${INTERVAL} s`);
    await sleep(INTERVAL * 1000);

    const first: Scrape = await scrape(server.url);
    const cpuStart = cpuSeconds(server.pid);
    const crossingAt = Date.now() + DURATION * 1000 / 3;
    let crossed = false;
    const crossedIps: string[] = [];
    while (Date.now() - first.at < DURATION * 1000) {
      await sleep(5_000);
      if (withRules && !crossed && Date.now() >= crossingAt) {
        crossed = true;
        const hosts = sims.flatMap((s) => s.hosts.map((ip) => ({ ip, control: s.control })));
        const step = Math.max(1, Math.floor(hosts.length / CROSSINGS));
        for (let i = 0; i < hosts.length && crossedIps.length < CROSSINGS; i += step) {
          await fetch(`${hosts[i].control}/volume`, {
            method: "POST",
            body: JSON.stringify({ ip: hosts[i].ip, volume: "C:", used: 0.99 }),
          }).then((r) => r.body?.cancel());
          crossedIps.push(hosts[i].ip);
        }
        say(`  pinned C: at 99 % on ${crossedIps.length} hosts`);
      }
    }
    const last = await scrape(server.url);
    const cpu = cpuSeconds(server.pid) - cpuStart;
    const delta = (name: string, labels = "") =>
      value(last, name, labels) - value(first, name, labels);
    const ptr = (q: number) => histogramQuantile(first, last, "nmslite_poll_to_row_seconds", q);
    // Sample that opened the problem (openedAt) to the webhook at the receiver.
    const latencies = arrivals.filter((a) =>
      a.n.ruleName === BENCH_RULE && a.n.kind === "firing" && a.n.instance === "C:" &&
      crossedIps.includes(String(a.n.deviceIp))
    ).map((a) => (a.at - Date.parse(String(a.n.openedAt))) / 1000);
    return {
      label: withRules ? `defaults + 20 rules` : "no rules",
      samples: delta("nmslite_alert_samples_total"),
      evalSeconds: delta("nmslite_alert_evaluation_seconds_total"),
      evaluations: delta("nmslite_alert_evaluations_total"),
      nmsliteCpu: cpu,
      lagP99: value(last, "nmslite_scheduler_lag_seconds", 'quantile="0.99"'),
      pollToRow: { p50: ptr(0.5).value, p99: ptr(0.99).value, over: ptr(0.99).over },
      okPolls: delta("nmslite_polls_total", 'outcome="ok"'),
      latencies,
      webhooks: arrivals.length,
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((e) => say(`cleanup: ${e.message}`));
  }
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

const base = await run(false);
const rules = await run(true);
const lines = [
  `bench:alerts: ${HOSTS} hosts every ${INTERVAL} s, ${DURATION} s measured per run`,
  "",
  "| run | ok polls | NMSlite CPU s | lag p99 s | poll-to-row p50 / p99 s |",
  "|---|---:|---:|---:|---:|",
  ...[base, rules].map((r) =>
    `| ${r.label} | ${r.okPolls} | ${fmt(r.nmsliteCpu)} | ${fmt(r.lagP99, 2)} | ${
      fmt(r.pollToRow.p50, 2)
    } / ${r.pollToRow.over ? ">" : ""}${fmt(r.pollToRow.p99, 2)} |`
  ),
  "",
  `evaluation: ${rules.samples} samples, ${rules.evaluations} conditions, ${
    fmt(rules.evalSeconds * 1000, 1)
  } ms CPU = ${fmt(rules.samples ? rules.evalSeconds * 1e6 / rules.samples : NaN, 2)} µs per ` +
  `committed sample (target ≤ 20 µs)`,
  `threshold crossed -> webhook (beyond the rule's duration): ${rules.latencies.length}/${CROSSINGS} ` +
  `arrived, p50 ${fmt(quantile(rules.latencies, 0.5), 2)} s, p99 ${
    fmt(quantile(rules.latencies, 0.99), 2)
  } s (target p99 < 2 s); ${rules.webhooks} webhooks in all`,
];
console.log(lines.join("\n"));
Deno.exit(0);
