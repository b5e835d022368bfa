/**
 * The OpenAPI document is true: every operation it lists is called on a real server, for its
 * success and for the error statuses a client can cause (400, 401, 403, 404, 409, 429, and 503
 * during a real database outage), and every answer's status must be documented for the operation
 * and its body must match the schema documented for that status (tests/helpers/openapi_validate.ts:
 * nullability, types, formats, enums, and no property the document leaves out).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { ADMIN_PASSWORD, startTestServer, type TestServer } from "../helpers/server.ts";
import { freePort } from "../helpers/ports.ts";
import { takeDatabaseDown } from "../helpers/outage.ts";
import { MetricsWriter } from "../../lib/metrics/writer.ts";
import { depthSample } from "../helpers/depth_sample.ts";
import { MonitoringRuntime } from "../../lib/pipeline/runtime.ts";
import { WORKER_URLS } from "../../workers/urls.ts";
import { type OpenApiDocument, responseSchema, validate } from "../helpers/openapi_validate.ts";
import { startWebhookReceiver } from "../helpers/webhook_receiver.ts";
import { problemsRepo } from "../../lib/db/alert_problems.ts";

interface Call {
  method: string;
  /** the document's path template, e.g. /devices/{id} */
  path: string;
  id?: number;
  query?: string;
  body?: unknown;
  token?: string;
}

const BIG_ID = 2_147_483_647;

class Checker {
  /** "GET /devices/{id}" -> statuses seen (each validated) */
  readonly seen = new Map<string, Set<number>>();
  /** the last successful call of each operation, replayed during the outage */
  readonly good = new Map<string, Call>();
  constructor(readonly s: TestServer, readonly doc: OpenApiDocument) {}

  // deno-lint-ignore no-explicit-any
  async call(c: Call, expect: number | number[]): Promise<any> {
    const url = c.path.replace("{id}", String(c.id)) + (c.query ? `?${c.query}` : "");
    const res = await this.s.call(c.method, url, { token: c.token, body: c.body });
    const key = `${c.method} ${c.path}`;
    const what = `${key} (${url}) answered ${res.status}: ${JSON.stringify(res.body)}`;
    const expected = Array.isArray(expect) ? expect : [expect];
    assert(expected.includes(res.status), `expected ${expected.join(" or ")}: ${what}`);
    const { documented, schema } = responseSchema(this.doc, c.method, c.path, res.status);
    assert(documented, `status not in the document: ${what}`);
    if (res.status === 204) assertEquals(res.body, null, what);
    else {
      assert(schema, `no JSON schema documented: ${what}`);
      const errors = validate(this.doc, schema, res.body);
      assertEquals(errors, [], what.slice(0, 2000));
    }
    if (!this.seen.has(key)) this.seen.set(key, new Set());
    this.seen.get(key)!.add(res.status);
    if (res.status < 300) this.good.set(key, c);
    return res.body;
  }

  operations(): { key: string; method: string; path: string; op: Record<string, unknown> }[] {
    return Object.entries(this.doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        op,
      }))
    );
  }
}

for (const backend of backends()) {
  Deno.test({
    name: `OpenAPI document matches real responses of every operation (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const s = await startTestServer(backend, {
        NMSLITE_DISCOVERY_PING: "false",
        NMSLITE_LOGIN_MAX_FAILURES: "3",
      });
      try {
        const docRes = await s.call("GET", "/openapi.json");
        assertEquals(docRes.status, 200);
        const doc = docRes.body as OpenApiDocument;
        const k = new Checker(s, doc);
        const admin = await s.login();
        const closedPort = await freePort();

        const called = await t.step(
          "success and the errors a client can cause, operation by operation",
          async () => {
            const A = { token: admin };
            // --- health and auth
            await k.call({ method: "GET", path: "/health" }, 200);
            const session = (await k.call({
              method: "POST",
              path: "/auth/login",
              body: { username: "admin", password: ADMIN_PASSWORD },
            }, 200)).data;
            await k.call({
              method: "POST",
              path: "/auth/login",
              body: { username: "admin", password: "wrong-password" },
            }, 401);
            await k.call({ method: "POST", path: "/auth/login", body: { username: "" } }, 400);
            for (let i = 0; i < 3; i++) {
              await k.call({
                method: "POST",
                path: "/auth/login",
                body: { username: "nobody", password: "wrong-password" },
              }, 401);
            }
            await k.call({
              method: "POST",
              path: "/auth/login",
              body: { username: "nobody", password: "wrong-password" },
            }, 429);
            const refreshed = (await k.call({
              method: "POST",
              path: "/auth/refresh",
              body: { refresh_token: session.refresh_token },
            }, 200)).data;
            await k.call({
              method: "POST",
              path: "/auth/refresh",
              body: { refresh_token: "not-a-token" },
            }, 401);
            await k.call({ method: "POST", path: "/auth/refresh", body: {} }, 400);
            await k.call({
              method: "POST",
              path: "/auth/logout",
              body: { refresh_token: refreshed.refresh_token },
            }, 204);
            await k.call({ method: "POST", path: "/auth/logout", body: { x: 1 } }, 400);
            await k.call({ method: "GET", path: "/auth/me", ...A }, 200);

            // --- users
            const viewer = (await k.call({
              method: "POST",
              path: "/users",
              ...A,
              body: { username: "viewer1", password: "viewer-password", role: "viewer" },
            }, 201)).data;
            await k.call({
              method: "POST",
              path: "/users",
              ...A,
              body: { username: "VIEWER1", password: "viewer-password", role: "viewer" },
            }, 409);
            const gone = (await k.call({
              method: "POST",
              path: "/users",
              ...A,
              body: { username: "temp", password: "temp-password", role: "operator" },
            }, 201)).data;
            await k.call({ method: "GET", path: "/users", ...A }, 200);
            await k.call({ method: "GET", path: "/users/{id}", id: viewer.id, ...A }, 200);
            await k.call({
              method: "PUT",
              path: "/users/{id}",
              id: gone.id,
              ...A,
              body: { role: "viewer" },
            }, 200);
            await k.call({ method: "DELETE", path: "/users/{id}", id: gone.id, ...A }, 204);

            // --- one's own password (any role)
            await k.call({
              method: "POST",
              path: "/users",
              ...A,
              body: { username: "self1", password: "viewer-password", role: "viewer" },
            }, 201);
            const own = (await k.call({
              method: "POST",
              path: "/auth/login",
              body: { username: "self1", password: "viewer-password" },
            }, 200)).data;
            const V = { token: own.access_token };
            await k.call({
              method: "POST",
              path: "/auth/password",
              ...V,
              body: { current_password: "not-it", new_password: "viewer-password-2" },
            }, 403);
            await k.call({
              method: "POST",
              path: "/auth/password",
              ...V,
              body: { current_password: "viewer-password", new_password: "short" },
            }, 400);
            const changed = (await k.call({
              method: "POST",
              path: "/auth/password",
              ...V,
              body: { current_password: "viewer-password", new_password: "viewer-password-2" },
            }, 200)).data;
            // the outage replays a call whose token is still good (the old one has ended)
            k.good.set("POST /auth/password", {
              method: "POST",
              path: "/auth/password",
              token: changed.session.access_token,
              body: { current_password: "viewer-password-2", new_password: "viewer-password-3" },
            });

            // --- credential profiles
            const credBody = {
              name: "Lab",
              type: "winrm_ntlm",
              username: "u",
              password: "p",
              port: closedPort,
            };
            const cred = (await k.call({
              method: "POST",
              path: "/credential-profiles",
              ...A,
              body: credBody,
            }, 201)).data;
            await k.call({
              method: "POST",
              path: "/credential-profiles",
              ...A,
              body: { ...credBody, name: "lab" },
            }, 409);
            const spare = (await k.call({
              method: "POST",
              path: "/credential-profiles",
              ...A,
              body: { ...credBody, name: "Spare" },
            }, 201)).data;
            await k.call({ method: "GET", path: "/credential-profiles", query: "q=La", ...A }, 200);
            await k.call(
              { method: "GET", path: "/credential-profiles/{id}", id: cred.id, ...A },
              200,
            );
            await k.call({
              method: "PUT",
              path: "/credential-profiles/{id}",
              id: spare.id,
              ...A,
              body: { name: "LAB" },
            }, 409);
            await k.call({
              method: "PUT",
              path: "/credential-profiles/{id}",
              id: spare.id,
              ...A,
              body: { domain: "CORP" },
            }, 200);
            await k.call({
              method: "POST",
              path: "/credential-profiles/{id}/test",
              id: cred.id,
              ...A,
              body: { ip: "127.0.0.1" },
            }, 200);

            // --- discovery
            const dpBody = {
              name: "Office",
              credential_profile_id: cred.id,
              target: "127.0.251.1",
              ports: [closedPort],
            };
            const dp = (await k.call({
              method: "POST",
              path: "/discovery-profiles",
              ...A,
              body: dpBody,
            }, 201)).data;
            await k.call({
              method: "POST",
              path: "/discovery-profiles",
              ...A,
              body: { ...dpBody, name: "OFFICE" },
            }, 409);
            await k.call({
              method: "POST",
              path: "/discovery-profiles",
              ...A,
              body: { ...dpBody, name: "x", credential_profile_id: BIG_ID },
            }, 404);
            const wide = (await k.call({
              method: "POST",
              path: "/discovery-profiles",
              ...A,
              body: { ...dpBody, name: "Wide", target: "127.3.0.0/16" },
            }, 201)).data;
            await k.call({ method: "GET", path: "/discovery-profiles", ...A }, 200);
            await k.call({ method: "GET", path: "/discovery-profiles/{id}", id: dp.id, ...A }, 200);
            await k.call({
              method: "PUT",
              path: "/discovery-profiles/{id}",
              id: wide.id,
              ...A,
              body: { name: "office" },
            }, 409);
            await k.call({
              method: "PUT",
              path: "/discovery-profiles/{id}",
              id: dp.id,
              ...A,
              body: { ports: [closedPort, closedPort] },
            }, 200);
            const finished = (await k.call({
              method: "POST",
              path: "/discovery-profiles/{id}/run",
              id: dp.id,
              query: "wait=true",
              ...A,
            }, 200)).data;
            await k.call({ method: "GET", path: "/discovery-runs", ...A }, 200);
            await k.call({
              method: "GET",
              path: "/discovery-runs",
              query: `discovery_profile_id=${dp.id}&status=completed`,
              ...A,
            }, 200);
            await k.call({
              method: "GET",
              path: "/discovery-runs/{id}",
              id: finished.run.id,
              ...A,
            }, 200);
            await k.call({
              method: "POST",
              path: "/discovery-runs/{id}/cancel",
              id: finished.run.id,
              ...A,
            }, 409);
            const running = (await k.call({
              method: "POST",
              path: "/discovery-profiles/{id}/run",
              id: wide.id,
              ...A,
            }, 202)).data;
            // 65,536 addresses: still running when the cancel arrives on any machine we know of.
            await k.call({
              method: "POST",
              path: "/discovery-runs/{id}/cancel",
              id: running.id,
              ...A,
            }, [200, 409]);

            // --- devices
            const device = (await k.call({
              method: "POST",
              path: "/devices",
              ...A,
              body: { ip: "127.0.252.1", hostname: "host-1" },
            }, 201)).data;
            await k.call(
              { method: "POST", path: "/devices", ...A, body: { ip: "127.0.252.1" } },
              409,
            );
            const loose = (await k.call({
              method: "POST",
              path: "/devices",
              ...A,
              body: { ip: "127.0.252.2" },
            }, 201)).data;
            await k.call({ method: "GET", path: "/devices", query: "sort=ip&q=127", ...A }, 200);
            await k.call({ method: "GET", path: "/devices/{id}", id: device.id, ...A }, 200);
            await k.call({
              method: "PUT",
              path: "/devices/{id}",
              id: device.id,
              ...A,
              body: { os: "Windows Server 2022" },
            }, 200);

            // --- plugins
            const plugins = (await k.call({ method: "GET", path: "/plugins", ...A }, 200)).data;
            const winrm = plugins.find((p: { name: string }) => p.name === "windows-winrm");
            await k.call({ method: "GET", path: "/plugins/{id}", id: winrm.id, ...A }, 200);
            const pluginBody = { name: "my-collector", config: { command: "echo" } };
            const plugin = (await k.call({
              method: "POST",
              path: "/plugins",
              ...A,
              body: pluginBody,
            }, 201)).data;
            await k.call({ method: "POST", path: "/plugins", ...A, body: pluginBody }, 409);
            await k.call({
              method: "PUT",
              path: "/plugins/{id}",
              id: plugin.id,
              ...A,
              body: { description: "a test plugin" },
            }, 200);
            await k.call({
              method: "PUT",
              path: "/plugins/{id}",
              id: plugin.id,
              ...A,
              body: { name: "windows-winrm" },
            }, [400, 409]);

            // --- monitors and their metrics
            const monitorBody = {
              device_id: device.id,
              credential_profile_id: cred.id,
              plugin_id: winrm.id,
              polling_interval: 60,
              enabled: false,
            };
            const monitor = (await k.call({
              method: "POST",
              path: "/monitors",
              ...A,
              body: monitorBody,
            }, 201)).data;
            await k.call({ method: "POST", path: "/monitors", ...A, body: monitorBody }, 409);
            await k.call({
              method: "POST",
              path: "/monitors",
              ...A,
              body: { ...monitorBody, device_id: BIG_ID },
            }, 404);
            const other = (await k.call({
              method: "POST",
              path: "/monitors",
              ...A,
              body: { ...monitorBody, plugin_id: plugin.id },
            }, 201)).data;
            await k.call({
              method: "PUT",
              path: "/monitors/{id}",
              id: other.id,
              ...A,
              body: { plugin_id: winrm.id },
            }, 409);
            await k.call({ method: "GET", path: "/monitors", query: "enabled=false", ...A }, 200);
            await k.call({ method: "GET", path: "/monitors/{id}", id: monitor.id, ...A }, 200);
            await k.call({
              method: "PATCH",
              path: "/monitors",
              ...A,
              body: { ids: [monitor.id, BIG_ID], enabled: false },
            }, 200);
            await k.call({ method: "PATCH", path: "/monitors", ...A, body: { ids: [] } }, 400);
            await k.call({
              method: "PUT",
              path: "/monitors/{id}",
              id: monitor.id,
              ...A,
              body: { polling_interval: 120 },
            }, 200);

            // --- poll now: 503 while nothing polls, 404, 409 with no enabled monitor, and 202
            // with the monitoring runtime started (a real one, for these calls only)
            const poll = { method: "POST", path: "/devices/{id}/poll", id: device.id, ...A };
            await k.call(poll, 503);
            await k.call({ ...poll, id: BIG_ID }, 404);
            const runtime = new MonitoringRuntime({
              ...s.ctx,
              workers: WORKER_URLS,
              settings: s.ctx.config,
              queuePath: `${s.dataDir}/poll-now-queue.kv`,
            });
            await runtime.start();
            s.ctx.monitoring = runtime;
            try {
              await k.call(poll, 409); // its monitors are disabled
              const toggle = (enabled: boolean) =>
                k.call({
                  method: "PUT",
                  path: "/monitors/{id}",
                  id: monitor.id,
                  ...A,
                  body: { enabled },
                }, 200);
              await toggle(true);
              const started = (await k.call(poll, 202)).data;
              assertEquals([started.polled, started.skipped], [[monitor.id], []]);
              await toggle(false);
            } finally {
              s.ctx.monitoring = undefined;
              await runtime.stop();
            }
            await k.call({
              method: "GET",
              path: "/monitors/{id}/metrics",
              id: monitor.id,
              ...A,
            }, 200); // no sample yet: sample is null
            // One real sample, written as the pipeline writes them.
            await new MetricsWriter(s.ctx.db).write({
              v: 1,
              batchId: crypto.randomUUID(),
              samples: [{
                monitorId: monitor.id,
                ts: Date.now() - 60_000,
                cpuPercent: 12.5,
                memoryTotal: 1000,
                memoryUsed: 500,
                diskTotal: 2000,
                diskUsed: 1000,
                netSentBps: 10,
                netRecvBps: 20,
                netPacketsSent: 1,
                netPacketsRecv: 2,
                netErrors: 0,
                netDiscards: 0,
                netUtilization: null,
                processCount: 40,
                collectionMs: 30,
                volumes: [{ name: "C:", total: 2000, used: 1000 }],
                interfaces: [{
                  name: "Ethernet",
                  sentBps: 10,
                  recvBps: 20,
                  packetsSent: 1,
                  packetsRecv: 2,
                  errors: 0,
                  discards: 0,
                  bandwidthBps: 1_000_000,
                  utilization: null,
                }],
              }],
              outcomes: [{
                monitorId: monitor.id,
                deviceId: device.id,
                ok: true,
                attempts: 1,
                attemptedAt: Date.now() - 60_000,
                dueAt: Date.now() - 60_000,
                durationMs: 30,
              }],
            });
            const latest = (await k.call({
              method: "GET",
              path: "/monitors/{id}/metrics",
              id: monitor.id,
              ...A,
            }, 200)).data;
            assert(latest.sample !== null, "the inserted sample is read back");
            for (const breakdown of ["", "&breakdown=volumes", "&breakdown=interfaces"]) {
              await k.call({
                method: "GET",
                path: "/monitors/{id}/metrics/history",
                id: monitor.id,
                query: `points=10${breakdown}`,
                ...A,
              }, 200);
            }
            await k.call({
              method: "GET",
              path: "/monitors/{id}/metrics/history",
              id: monitor.id,
              query: "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
              ...A,
            }, 400);
            await k.call(
              { method: "GET", path: "/devices/{id}/metrics", id: device.id, ...A },
              200,
            );

            // --- collection profiles and what the extended/full profiles store (issue 16)
            const setConfig = (config: unknown, status: number) =>
              k.call({
                method: "PUT",
                path: "/monitors/{id}",
                id: monitor.id,
                ...A,
                body: { config },
              }, status);
            await setConfig({ profile: "full", top_processes: 5 }, 200);
            const bad = await setConfig({ profile: "everything" }, 400);
            assertEquals(bad.error.details.field, "config.profile");
            await new MetricsWriter(s.ctx.db).write({
              v: 1,
              batchId: crypto.randomUUID(),
              samples: [depthSample(monitor.id, Date.now() - 30_000)],
              outcomes: [],
            });
            for (
              const [path, query] of [
                ["/devices/{id}/services", "state=Stopped"],
                ["/devices/{id}/processes", "sort=memory"],
                ["/devices/{id}/events", "source=Application%20Error&event_id=1000&level=error"],
                ["/devices/{id}/device-events", "kind=reboot"],
              ]
            ) {
              await k.call({ method: "GET", path, id: device.id, query, ...A }, 200);
            }
            await k.call({
              method: "GET",
              path: "/devices/{id}/events",
              id: device.id,
              query: "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
              ...A,
            }, 400);
            for (const breakdown of ["physical_disks", "cpu_cores"]) {
              await k.call({
                method: "GET",
                path: "/monitors/{id}/metrics/history",
                id: monitor.id,
                query: `points=10&breakdown=${breakdown}`,
                ...A,
              }, 200);
            }
            // --- alerting: rules, problems, maintenance, tags, channels, policies
            await k.call({ method: "GET", path: "/alert-metrics", ...A }, 200);
            await k.call({ method: "GET", path: "/alert-rules", ...A }, 200);
            const ruleBody = {
              name: "C: full",
              metric: "volume_used_percent",
              operator: ">",
              threshold: 95,
              recovery_threshold: 90,
              for_seconds: 60,
              severity: "high",
              scope: { kind: "device", device_id: device.id },
            };
            await k.call({
              method: "POST",
              path: "/alert-rules",
              body: { ...ruleBody, metric: "disk_magic" },
              ...A,
            }, 400);
            const rule = (await k.call(
              { method: "POST", path: "/alert-rules", body: ruleBody, ...A },
              201,
            )).data;
            await k.call({ method: "GET", path: "/alert-rules/{id}", id: rule.id, ...A }, 200);
            await k.call({
              method: "PUT",
              path: "/alert-rules/{id}",
              id: rule.id,
              body: { ...ruleBody, threshold: 97 },
              ...A,
            }, 200);
            const problemId = await problemsRepo.open(s.ctx.db, {
              rule_id: rule.id,
              rule_name: rule.name,
              device_id: device.id,
              instance: "C:",
              severity: "high",
              opened_at: new Date(),
              open_value: 98,
              threshold: 97,
              summary: "C: 98 % > 97 %",
              in_maintenance: false,
            });
            await k.call({ method: "GET", path: "/problems", query: "state=open", ...A }, 200);
            await k.call({ method: "GET", path: "/problems/overview", ...A }, 200);
            await k.call({ method: "GET", path: "/problems/{id}", id: problemId, ...A }, 200);
            await k.call({
              method: "POST",
              path: "/problems/{id}/acknowledge",
              id: problemId,
              body: { comment: "looking" },
              ...A,
            }, 200);
            await k.call({
              method: "GET",
              path: "/problems/{id}/deliveries",
              id: problemId,
              ...A,
            }, 200);
            const windowBody = {
              name: "patch tuesday",
              scope: { kind: "tag", tag: "prod" },
              kind: "weekly",
              weekdays: [2],
              start_minute: 1200,
              duration_minutes: 120,
            };
            const mw = (await k.call(
              { method: "POST", path: "/maintenance-windows", body: windowBody, ...A },
              201,
            )).data;
            await k.call({ method: "GET", path: "/maintenance-windows", ...A }, 200);
            await k.call(
              { method: "GET", path: "/maintenance-windows/{id}", id: mw.id, ...A },
              200,
            );
            await k.call({
              method: "PUT",
              path: "/maintenance-windows/{id}",
              id: mw.id,
              body: { ...windowBody, duration_minutes: 60 },
              ...A,
            }, 200);
            await k.call({
              method: "PUT",
              path: "/devices/{id}/tags",
              id: device.id,
              body: { tags: ["prod", "site:berlin"] },
              ...A,
            }, 200);
            await k.call({ method: "GET", path: "/devices/{id}/tags", id: device.id, ...A }, 200);
            await k.call({ method: "GET", path: "/device-tags", ...A }, 200);
            const hook = await startWebhookReceiver("hmac-secret-1");
            try {
              const channelBody = {
                name: "ops hook",
                type: "webhook",
                settings: { url: `${hook.url}/hook` },
                secrets: { hmacSecret: "hmac-secret-1" },
              };
              const channel = (await k.call(
                { method: "POST", path: "/notification-channels", body: channelBody, ...A },
                201,
              )).data;
              await k.call({ method: "GET", path: "/notification-channels", ...A }, 200);
              await k.call({
                method: "GET",
                path: "/notification-channels/{id}",
                id: channel.id,
                ...A,
              }, 200);
              await k.call({
                method: "PUT",
                path: "/notification-channels/{id}",
                id: channel.id,
                body: { ...channelBody, secrets: undefined },
                ...A,
              }, 200);
              const tested = (await k.call({
                method: "POST",
                path: "/notification-channels/{id}/test",
                id: channel.id,
                ...A,
              }, 200)).data;
              assert(tested.ok, "the test notification was delivered");
              const policyBody = { name: "all to ops", channel_id: channel.id };
              const policy = (await k.call(
                { method: "POST", path: "/notification-policies", body: policyBody, ...A },
                201,
              )).data;
              await k.call({ method: "GET", path: "/notification-policies", ...A }, 200);
              await k.call({
                method: "GET",
                path: "/notification-policies/{id}",
                id: policy.id,
                ...A,
              }, 200);
              await k.call({
                method: "PUT",
                path: "/notification-policies/{id}",
                id: policy.id,
                body: { ...policyBody, min_severity: "high" },
                ...A,
              }, 200);
              await k.call({ method: "GET", path: "/notification-dead-letters", ...A }, 200);
              const spareChannel = (await k.call({
                method: "POST",
                path: "/notification-channels",
                body: { ...channelBody, name: "spare" },
                ...A,
              }, 201)).data;
              const sparePolicy = (await k.call({
                method: "POST",
                path: "/notification-policies",
                body: { ...policyBody, name: "spare" },
                ...A,
              }, 201)).data;
              await k.call({
                method: "DELETE",
                path: "/notification-policies/{id}",
                id: sparePolicy.id,
                ...A,
              }, 204);
              await k.call({
                method: "DELETE",
                path: "/notification-channels/{id}",
                id: spareChannel.id,
                ...A,
              }, 204);
            } finally {
              await hook.close();
            }
            const spareRule = (await k.call({
              method: "POST",
              path: "/alert-rules",
              body: { ...ruleBody, name: "spare" },
              ...A,
            }, 201)).data;
            await k.call(
              { method: "DELETE", path: "/alert-rules/{id}", id: spareRule.id, ...A },
              204,
            );
            const spareWindow = (await k.call({
              method: "POST",
              path: "/maintenance-windows",
              body: { ...windowBody, name: "spare" },
              ...A,
            }, 201)).data;
            await k.call({
              method: "DELETE",
              path: "/maintenance-windows/{id}",
              id: spareWindow.id,
              ...A,
            }, 204);

            // --- in use, then deletions
            await k.call({ method: "DELETE", path: "/devices/{id}", id: device.id, ...A }, 400);
            await k.call({ method: "DELETE", path: "/plugins/{id}", id: winrm.id, ...A }, 400);
            await k.call({
              method: "DELETE",
              path: "/credential-profiles/{id}",
              id: cred.id,
              ...A,
            }, 400);
            await k.call({ method: "DELETE", path: "/monitors/{id}", id: other.id, ...A }, 204);
            await k.call({ method: "DELETE", path: "/plugins/{id}", id: plugin.id, ...A }, 204);
            await k.call({ method: "DELETE", path: "/devices/{id}", id: loose.id, ...A }, 204);
            await k.call({
              method: "DELETE",
              path: "/discovery-profiles/{id}",
              id: wide.id,
              ...A,
            }, 204);
            await k.call({
              method: "DELETE",
              path: "/credential-profiles/{id}",
              id: spare.id,
              ...A,
            }, 204);
            await k.call({ method: "GET", path: "/audit-log", query: "entity=monitor", ...A }, 200);

            // --- sites and poller nodes (the node protocol itself is tested in tests/nodes/)
            const site = (await k.call(
              { method: "POST", path: "/sites", body: { name: "branch" }, ...A },
              201,
            )).data;
            await k.call({ method: "POST", path: "/sites", body: { name: "BRANCH" }, ...A }, 409);
            await k.call({ method: "GET", path: "/sites", ...A }, 200);
            await k.call({ method: "GET", path: "/sites/{id}", id: site.id, ...A }, 200);
            await k.call({
              method: "PUT",
              path: "/sites/{id}",
              id: site.id,
              body: { description: "the branch office" },
              ...A,
            }, 200);
            const pollerNode = (await k.call({
              method: "POST",
              path: "/poller-nodes",
              body: { site_id: site.id, name: "branch-1" },
              ...A,
            }, 201)).data;
            assert(pollerNode.enrolment_token, "the enrolment token is in the create answer");
            await k.call({
              method: "POST",
              path: "/poller-nodes",
              body: { site_id: BIG_ID, name: "nowhere" },
              ...A,
            }, 404);
            await k.call({ method: "GET", path: "/poller-nodes", ...A }, 200);
            await k.call(
              { method: "GET", path: "/poller-nodes/{id}", id: pollerNode.id, ...A },
              200,
            );
            await k.call({ method: "DELETE", path: "/sites/{id}", id: site.id, ...A }, 400);
            await k.call({
              method: "POST",
              path: "/poller-nodes/{id}/revoke",
              id: pollerNode.id,
              ...A,
            }, 200);
            await k.call({
              method: "POST",
              path: "/poller-nodes/{id}/revoke",
              id: pollerNode.id,
              ...A,
            }, 409);
            const otherNode = (await k.call({
              method: "POST",
              path: "/poller-nodes",
              body: { site_id: site.id, name: "branch-2" },
              ...A,
            }, 201)).data;
            await k.call(
              { method: "DELETE", path: "/poller-nodes/{id}", id: otherNode.id, ...A },
              204,
            );
            const empty = (await k.call(
              { method: "POST", path: "/sites", body: { name: "empty" }, ...A },
              201,
            )).data;
            await k.call({ method: "DELETE", path: "/sites/{id}", id: empty.id, ...A }, 204);

            // --- the same errors for every operation: 401, 400 (bad id), 404, 403 (viewer)
            const viewerToken = await s.login("viewer1", "viewer-password");
            for (const { key, method, path, op } of k.operations()) {
              const secured = Array.isArray(op.security) && op.security.length > 0;
              const good = k.good.get(key);
              if (!secured || !good) continue;
              await k.call({ ...good, token: undefined }, 401);
              if (path.includes("{id}")) {
                await k.call({ ...good, id: 0 }, 400);
                await k.call({ ...good, id: BIG_ID }, 404);
              }
              const adminOnly = path.startsWith("/users") || path === "/audit-log" ||
                path.startsWith("/poller-nodes") ||
                path.startsWith("/notification-channels") ||
                path.startsWith("/notification-policies") || path === "/notification-dead-letters";
              if (method !== "GET" || adminOnly) await k.call({ ...good, token: viewerToken }, 403);
              else if (path !== "/auth/me") await k.call({ ...good, token: viewerToken }, 200);
            }
          },
        );

        await t.step("every integer a request can carry has a maximum within int4", () => {
          const unbounded: string[] = [];
          const walk = (schema: Record<string, unknown> | undefined, at: string) => {
            if (!schema) return;
            const ref = schema.$ref as string | undefined;
            if (ref) return walk(doc.components?.schemas?.[ref.split("/").pop()!], at);
            if (schema.type === "integer") {
              const max = schema.maximum as number | undefined;
              if (max === undefined || max > 2_147_483_647) unbounded.push(at);
            }
            for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v, `${at}.${k}`);
            if (schema.items) walk(schema.items as Record<string, unknown>, `${at}[]`);
            for (const key of ["allOf", "anyOf", "oneOf"]) {
              for (const sub of (schema[key] ?? []) as Record<string, unknown>[]) walk(sub, at);
            }
          };
          for (const { key, op } of k.operations()) {
            for (const p of (op.parameters ?? []) as { name: string; schema: never }[]) {
              walk(p.schema, `${key} ${p.name}`);
            }
            const body = (op.requestBody as { content?: Record<string, { schema: never }> })
              ?.content?.["application/json"]?.schema;
            walk(body, `${key} body`);
          }
          assertEquals(unbounded, []);
        });

        if (!called) return;
        await t.step("every operation in the document was called and validated", () => {
          const missing = k.operations().filter(({ key }) =>
            ![...(k.seen.get(key) ?? [])].some((st) => st < 300)
          ).map(({ key }) => key);
          assertEquals(missing, [], "operations never answered with success");
          assert(k.operations().length >= 40, `${k.operations().length} operations`);
        });

        await t.step(
          "during a database outage: 503, as documented, for every operation",
          async () => {
            const restore = await takeDatabaseDown(s);
            for (const { key } of k.operations()) {
              const good = k.good.get(key)!;
              // the token and the metric catalogue need no database
              const offline = key === "GET /auth/me" || key === "GET /alert-metrics";
              await k.call(good, offline ? 200 : 503);
            }
            await restore?.();
          },
        );
      } finally {
        await s.close();
      }
    },
  });
}
