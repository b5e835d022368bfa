import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer } from "../helpers/server.ts";
import { MetricsWriter } from "../../lib/metrics/writer.ts";
import type { MetricSample } from "../../lib/messages.ts";

const MIN = 60_000;
const DAY = 86_400_000;

function sample(monitorId: number, ts: number, over: Partial<MetricSample> = {}): MetricSample {
  return {
    monitorId,
    ts,
    cpuPercent: null,
    memoryTotal: 1000,
    memoryUsed: 500,
    diskTotal: 200,
    diskUsed: 50,
    netSentBps: 100,
    netRecvBps: 1000,
    netPacketsSent: 1,
    netPacketsRecv: 2,
    netErrors: 0,
    netDiscards: 0,
    netUtilization: null,
    processCount: 100,
    collectionMs: 5,
    volumes: null,
    interfaces: null,
    ...over,
  };
}

for (const backend of backends()) {
  Deno.test({
    name: `metrics API (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const s = await startTestServer(backend);
      const token = await s.login();
      const call = (method: string, path: string, body?: unknown) =>
        s.call(method, path, { token, body });
      try {
        const cred = await call("POST", "/credential-profiles", {
          name: "c",
          type: "winrm_ntlm",
          username: "u",
          password: "metrics-test-pass",
        });
        const plugins = await call("GET", "/plugins");
        const pluginId = plugins.body.data[0].id;
        const device = async (ip: string) => (await call("POST", "/devices", { ip })).body.data.id;
        // One monitor per device, credential profile and plugin: b, on a's device, needs its own.
        const cred2 = await call("POST", "/credential-profiles", {
          name: "c2",
          type: "winrm_ntlm",
          username: "u2",
          password: "metrics-test-pass",
        });
        const monitor = async (deviceId: number, credId = cred.body.data.id) =>
          (await call("POST", "/monitors", {
            device_id: deviceId,
            credential_profile_id: credId,
            plugin_id: pluginId,
            polling_interval: 60,
            enabled: false,
          })).body.data.id as number;
        const dev1 = await device("192.0.2.10");
        const dev2 = await device("192.0.2.11");
        const a = await monitor(dev1);
        const b = await monitor(dev1, cred2.body.data.id);
        const c = await monitor(dev2);

        // Monitor a: three samples in one minute, one in the next, the latest five minutes on.
        const base = Math.floor(Date.now() / MIN) * MIN - 30 * MIN;
        const latestTs = base + 5 * MIN;
        const writer = new MetricsWriter(s.ctx.db);
        await writer.write({
          v: 1,
          batchId: crypto.randomUUID(),
          samples: [
            sample(a, base, { cpuPercent: 10, memoryUsed: 250, processCount: 100 }),
            sample(a, base + 20_000, { cpuPercent: 20, memoryUsed: 500, processCount: 110 }),
            sample(a, base + 40_000, { cpuPercent: 30, memoryUsed: 750, processCount: 120 }),
            sample(a, base + MIN, { cpuPercent: 50 }),
            sample(a, latestTs, {
              cpuPercent: 42.5,
              memoryTotal: 17_179_869_184,
              memoryUsed: 4_294_967_296,
              diskTotal: 1000,
              diskUsed: 333,
              volumes: [{ name: "C:", total: 400, used: 100 }, {
                name: "D:",
                total: 600,
                used: 233,
              }],
              interfaces: [{
                name: "eth0",
                sentBps: 1000,
                recvBps: 4000,
                packetsSent: 7,
                packetsRecv: 9,
                errors: 0,
                discards: 1,
                bandwidthBps: 1_000_000,
                utilization: null,
              }],
            }),
            // b: only a sample three days old (found by widening the window);
            // c: only one older than the widest window (not looked for).
            sample(b, Date.now() - 3 * DAY, { cpuPercent: 7 }),
            sample(c, Date.now() - 500 * DAY, { cpuPercent: 9 }),
          ],
          outcomes: [{
            monitorId: a,
            deviceId: dev1,
            ok: true,
            attempts: 1,
            attemptedAt: latestTs,
            dueAt: latestTs,
            durationMs: 5,
          }],
        });

        await t.step("latest sample with derived percentages and breakdowns", async () => {
          const res = await call("GET", `/monitors/${a}/metrics`);
          assertEquals(res.status, 200, JSON.stringify(res.body));
          const d = res.body.data;
          assertEquals([d.monitor_id, d.device_id], [a, dev1]);
          assertEquals(new Date(d.sample.ts).getTime(), latestTs);
          assertEquals(d.sample.cpu_percent, 42.5);
          assertEquals(d.sample.memory, {
            total_bytes: 17_179_869_184,
            used_bytes: 4_294_967_296,
            percent: 25,
          });
          assertEquals(d.sample.disk.percent, 33.3);
          assertEquals(d.sample.volumes, [
            { name: "C:", total_bytes: 400, used_bytes: 100, percent: 25 },
            { name: "D:", total_bytes: 600, used_bytes: 233, percent: 38.833 },
          ]);
          assertEquals(d.sample.interfaces.length, 1);
          assertEquals(d.sample.interfaces[0].utilization_percent, 4); // 5000 B/s × 8 / 1 Mbit/s
          assertEquals(d.sample.network.utilization_percent, 4);
          assertEquals(d.sample.network.sent_bps, 100);
        });

        await t.step("latest: widening window, bounded search, 404", async () => {
          const old = await call("GET", `/monitors/${b}/metrics`);
          assertEquals(old.body.data.sample.cpu_percent, 7);
          const none = await call("GET", `/monitors/${c}/metrics`);
          assertEquals(none.status, 200);
          assertEquals(none.body.data, { monitor_id: c, device_id: dev2, sample: null });
          const missing = await call("GET", "/monitors/99999/metrics");
          assertEquals(missing.status, 404);
          assertEquals(missing.body.error.code, "NOT_FOUND");
        });

        await t.step("device: latest per monitor, 404", async () => {
          const res = await call("GET", `/devices/${dev1}/metrics`);
          assertEquals(res.status, 200);
          assertEquals(res.body.data.device_id, dev1);
          assertEquals(
            res.body.data.monitors.map((
              m: { monitor_id: number; sample: { cpu_percent: number } },
            ) => [m.monitor_id, m.sample.cpu_percent]),
            [[a, 42.5], [b, 7]],
          );
          const missing = await call("GET", "/devices/99999/metrics");
          assertEquals(missing.status, 404);
          assertEquals(missing.body.error.code, "NOT_FOUND");
        });

        const range = (from: number, to: number, extra = "") =>
          `/monitors/${a}/metrics/history?from=${new Date(from).toISOString()}&to=${
            new Date(to).toISOString()
          }${extra}`;

        await t.step("history: min/avg/max per date_bin bucket", async () => {
          const res = await call("GET", range(base, base + 10 * MIN, "&points=10"));
          assertEquals(res.status, 200, JSON.stringify(res.body));
          const d = res.body.data;
          assertEquals(d.bucket_seconds, 60);
          assertEquals(d.breakdown, null);
          assertEquals(d.points.length, 3);
          const [p0, p1, p2] = d.points;
          assertEquals(new Date(p0.t).getTime(), base);
          assertEquals(new Date(p1.t).getTime(), base + MIN);
          assertEquals(new Date(p2.t).getTime(), latestTs);
          assertEquals(p0.samples, 3);
          assertEquals(p0.cpu_percent, { min: 10, avg: 20, max: 30 });
          assertEquals(p0.memory_percent, { min: 25, avg: 50, max: 75 });
          assertEquals(p0.process_count, { min: 100, avg: 110, max: 120 });
          assertEquals(p0.disk_percent, { min: 25, avg: 25, max: 25 });
          assertEquals(p1.cpu_percent, { min: 50, avg: 50, max: 50 });

          const one = await call("GET", range(base, base + 10 * MIN, "&points=1"));
          assertEquals(one.body.data.bucket_seconds, 600);
          assertEquals(one.body.data.points.length, 1);
          assertEquals(one.body.data.points[0].samples, 5);
          assertEquals(one.body.data.points[0].cpu_percent, { min: 10, avg: 30.5, max: 50 });

          // An offset sent unencoded ("+" decodes to a space) still parses.
          const iso = (ms: number) => new Date(ms).toISOString().replace("Z", "+00:00");
          const plus = await call(
            "GET",
            `/monitors/${a}/metrics/history?from=${iso(base)}&to=${iso(base + 10 * MIN)}&points=10`,
          );
          assertEquals(plus.status, 200, JSON.stringify(plus.body));
          assertEquals(plus.body.data.points.length, 3);

          // [from, to): a sample exactly at `to` is left out.
          const open = await call("GET", range(base, base + MIN, "&points=1"));
          assertEquals(open.body.data.points[0].samples, 3);
        });

        await t.step("history: default last hour, breakdowns", async () => {
          const res = await call("GET", `/monitors/${a}/metrics/history`);
          assertEquals(res.status, 200);
          const d = res.body.data;
          assertEquals(new Date(d.to).getTime() - new Date(d.from).getTime(), 3_600_000);
          assertEquals(d.bucket_seconds, 12);
          assertEquals(d.points.length, 5);

          const vols = await call(
            "GET",
            range(base, base + 10 * MIN, "&points=10&breakdown=volumes"),
          );
          assertEquals(vols.body.data.breakdown.kind, "volumes");
          const series = vols.body.data.breakdown.series;
          assertEquals(series.map((x: { name: string }) => x.name), ["C:", "D:"]);
          assertEquals(series[1].points.length, 1);
          assertEquals(series[1].points[0].percent, 38.833);
          assertEquals(new Date(series[1].points[0].t).getTime(), latestTs);

          const ifs = await call("GET", range(base, base + 10 * MIN, "&breakdown=interfaces"));
          const eth0 = ifs.body.data.breakdown.series[0];
          assertEquals(eth0.name, "eth0");
          assertEquals(eth0.points[0].sent_bps, 1000);
          assertEquals(eth0.points[0].utilization_percent, 4);
        });

        await t.step("history: validation errors name the field, 404", async () => {
          const now = Date.now();
          const cases: [string, string][] = [
            [range(now, now - MIN), "from"],
            [range(now - 401 * DAY, now), "to"],
            [`/monitors/${a}/metrics/history?from=yesterday`, "from"],
            [`/monitors/${a}/metrics/history?to=2026-13-01T00:00:00Z`, "to"],
            [`/monitors/${a}/metrics/history?points=0`, "points"],
            [`/monitors/${a}/metrics/history?points=2001`, "points"],
            [`/monitors/${a}/metrics/history?breakdown=cpu`, "breakdown"],
          ];
          for (const [path, field] of cases) {
            const res = await call("GET", path);
            assertEquals(res.status, 400, path);
            assertEquals(res.body.error.code, "VALIDATION_ERROR");
            assertEquals(res.body.error.details.field, field, JSON.stringify(res.body));
          }
          const missing = await call("GET", "/monitors/99999/metrics/history");
          assertEquals(missing.status, 404);
          assertEquals(missing.body.error.code, "NOT_FOUND");
        });

        await t.step("every role reads; documented in openapi.json", async () => {
          const created = await call("POST", "/users", {
            username: "viewer1",
            password: "viewer-pass-1",
            role: "viewer",
          });
          assertEquals(created.status, 201);
          const viewer = await s.login("viewer1", "viewer-pass-1");
          for (
            const path of [
              `/monitors/${a}/metrics`,
              `/devices/${dev1}/metrics`,
              range(base, latestTs),
            ]
          ) {
            const res = await s.call("GET", path, { token: viewer });
            assertEquals(res.status, 200, path);
          }
          const anonymous = await s.call("GET", `/monitors/${a}/metrics`);
          assertEquals(anonymous.status, 401);
          const doc = await s.call("GET", "/openapi.json");
          for (
            const p of [
              "/monitors/{id}/metrics",
              "/monitors/{id}/metrics/history",
              "/devices/{id}/metrics",
            ]
          ) {
            assert(doc.body.paths[p]?.get, `${p} missing from openapi.json`);
          }
        });
      } finally {
        await s.close();
      }
    },
  });
}
