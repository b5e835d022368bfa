/**
 * The evaluator alone, in this process: 10,000 monitors, the default rules plus 20 more,
 * samples as the writer commits them (two volumes, one interface). Prints the CPU time per
 * committed sample once warm (`deno task bench:alerts` measures it inside a running server;
 * this isolates it from the rest of the machine's load).
 *
 *   deno run --allow-all bench/alerts_evaluator.ts [--samples 1000000]
 */
import { Evaluator } from "../lib/alerting/evaluator.ts";
import type { AlertRule } from "../lib/db/alert_rules.ts";
import type { MetricSample } from "../lib/messages.ts";

const args = Deno.args[0] === "--" ? Deno.args.slice(1) : [...Deno.args];
const i = args.indexOf("--samples");
const SAMPLES = i >= 0 ? Number(args[i + 1]) : 1_000_000;
const MONITORS = 10_000;

const metrics: [string, string, number][] = [
  ["device_unreachable", ">=", 1],
  ["cpu_percent", ">", 90],
  ["memory_percent", ">", 90],
  ["volume_used_percent", ">", 90],
  ["volume_free_percent", "<", 5],
  ["monitor_failing", ">=", 3],
  ["cpu_percent", ">", 95],
  ["cpu_percent", ">=", 99],
  ["memory_percent", ">", 95],
  ["volume_used_percent", ">", 95],
  ["volume_free_percent", "<", 1],
  ["volume_free_bytes", "<", 1e9],
  ["volume_free_bytes", "<", 1e10],
  ["interface_utilization", ">", 90],
  ["interface_utilization", ">=", 99],
  ["interface_errors_per_s", ">", 10],
  ["interface_discards_per_s", ">", 10],
  ["process_count", ">", 2000],
  ["process_count", "<", 50],
  ["poll_duration_ms", ">", 20_000],
  ["poll_duration_ms", ">", 60_000],
  ["monitor_failing", ">=", 5],
  ["no_data", ">=", 3],
  ["cpu_percent", ">", 80],
  ["memory_percent", ">", 50],
  ["volume_used_percent", ">", 97],
];
const rules: AlertRule[] = metrics.map(([metric, operator, threshold], id) => ({
  id: id + 1,
  name: metric,
  metric,
  operator: operator as AlertRule["operator"],
  threshold,
  recovery_threshold: null,
  for_seconds: 300,
  severity: "warning",
  scope_kind: "all",
  scope_tag: null,
  scope_device_id: null,
  params: {},
  enabled: true,
  created_at: new Date(),
  updated_at: new Date(),
}));
let transitions = 0;
const e = new Evaluator({ recoveryHoldMs: 60_000, onTransition: () => transitions++ });
e.setDevices(
  Array.from({ length: MONITORS }, (_, d) => ({ id: d + 1, tags: [], unreachable: false })),
);
e.setMonitors(
  Array.from({ length: MONITORS }, (_, m) => ({ id: m + 1, deviceId: m + 1, intervalS: 60 })),
);
e.setRules(rules);

const sample = (n: number): MetricSample => ({
  monitorId: (n % MONITORS) + 1,
  ts: 1_700_000_000_000 + Math.floor(n / MONITORS) * 60_000,
  cpuPercent: (n * 7) % 60, // mostly quiet, as a real fleet
  memoryTotal: 16e9,
  memoryUsed: 8e9 + (n % 7) * 1e9,
  diskTotal: null,
  diskUsed: null,
  netSentBps: 1e5,
  netRecvBps: 2e5,
  netPacketsSent: 10,
  netPacketsRecv: 20,
  netErrors: 0,
  netDiscards: 0,
  netUtilization: 1,
  processCount: 120,
  collectionMs: 80,
  volumes: [
    { name: "C:", total: 256e9, used: 100e9 + (n % 13) * 5e9 },
    { name: "D:", total: 1e12, used: 5e11 },
  ],
  interfaces: [{
    name: "Ethernet",
    sentBps: 1e5,
    recvBps: 2e5,
    packetsSent: 1000 + n,
    packetsRecv: 2000 + n,
    errors: n % 3,
    discards: 0,
    bandwidthBps: 1e9,
    utilization: 0.1,
  }],
});
const batch = 1_000;
const samples = Array.from({ length: 20 * batch }, (_, n) => sample(n));
// warm up, then measure over SAMPLES (reusing prepared samples with fresh timestamps)
for (let n = 0; n < 200_000; n += batch) {
  e.committed(samples.slice(n % samples.length, n % samples.length + batch), []);
}
const cpu0 = performance.now();
for (let n = 0; n < SAMPLES; n += batch) {
  const part = samples.slice(n % samples.length, n % samples.length + batch);
  for (const s of part) s.ts += 60_000;
  e.committed(part, []);
}
const ms = performance.now() - cpu0;
console.log(
  `evaluator: ${SAMPLES} samples, ${rules.length} rules, ${(ms * 1000 / SAMPLES).toFixed(2)} µs ` +
    `per committed sample (${e.counters.evaluations} conditions, ${transitions} transitions)`,
);
