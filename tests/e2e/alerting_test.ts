/**
 * Alerting end to end with the simulator, over real sockets: a simulated host's C: filling past
 * the threshold opens exactly one problem (for that volume only) after the rule's duration; a
 * signed webhook and an email (real SMTP with STARTTLS + AUTH) go out; repeats come until it
 * is acknowledged; emptying the disk resolves it and sends "resolved"; a maintenance window
 * holds a problem's notification until it ends; a host going dark raises "unreachable" and
 * nothing else for that host; a restart mid-problem keeps it open and sends nothing twice. Durations are seconds; nothing asserts on wall-clock time.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { startWebhookReceiver } from "../helpers/webhook_receiver.ts";
import { startSmtpServer } from "../helpers/smtp_server.ts";
import type { Notification } from "../../lib/alerting/notification.ts";

const PASSWORD = "Sim-Passw0rd!";
const BASE = "127.0.49";
const PORTS = { http: 29985, rpc: 29135 };
const HMAC = "e2e-hmac-secret";

async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  guardMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + guardMs;
  while (true) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

Deno.test({
  name: "alerting end to end: disk fills, webhook + email, ack, resolve, maintenance, host dark",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sim = await startWinsim({
      hosts: 3,
      base: `${BASE}.1`,
      username: "Administrator",
      password: PASSWORD,
      httpPort: PORTS.http,
      httpsPort: null,
      rpcPort: PORTS.rpc,
    });
    // Every volume well below the thresholds to begin with.
    for (const h of sim.hosts) {
      sim.setVolumeUsed(h.ip, "C:", 0.4);
      sim.setVolumeUsed(h.ip, "D:", 0.5);
    }
    const hook = await startWebhookReceiver(HMAC);
    const smtp = await startSmtpServer();
    const server = await startTestServer("pglite", {
      NMSLITE_POLL_RETRIES: "0",
      NMSLITE_POLL_TIMEOUT: "2s",
      NMSLITE_HEALTH_FAILURE_THRESHOLD: "2",
      NMSLITE_HEALTH_FAILURE_WINDOW: "60s",
      NMSLITE_HEALTH_REACTIVATE_AFTER: "10m",
      NMSLITE_ALERTING_TICK: "250ms",
      NMSLITE_ALERTING_RECOVERY_HOLD: "0",
      NMSLITE_ALERTING_RETRY_BASE: "100ms",
      NMSLITE_ALERTING_RETRY_MAX: "500ms",
    }, { pipeline: true });
    try {
      const token = await server.login();
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await server.call(method, path, { token, body });
        assert(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
        return res.body?.data;
      };
      const webhooks = () =>
        hook.received.map((r) => ({
          ...JSON.parse(r.body) as Notification,
          signed: r.signatureValid,
        }));

      // --- rules: the default "volume above 90 %" must hold for 5 s here
      const rules = await call("GET", "/alert-rules?limit=100");
      const volume = rules.find((r: { metric: string }) => r.metric === "volume_used_percent");
      await call("PUT", `/alert-rules/${volume.id}`, {
        ...volume,
        id: undefined,
        created_at: undefined,
        updated_at: undefined,
        for_seconds: 5,
      });

      // --- channels and policies: webhook (signed) and email, repeats every 2 s
      const hookChannel = await call("POST", "/notification-channels", {
        name: "ops hook",
        type: "webhook",
        settings: { url: `${hook.url}/hook` },
        secrets: { hmacSecret: HMAC },
      });
      const mailChannel = await call("POST", "/notification-channels", {
        name: "ops mail",
        type: "email",
        settings: {
          host: "127.0.0.1",
          port: smtp.starttlsPort,
          security: "starttls",
          username: smtp.username,
          from: "NMSlite <nmslite@example.test>",
          to: ["ops@example.test"],
          caPem: smtp.certPem,
        },
        secrets: { password: smtp.password },
      });
      await call("POST", "/notification-policies", {
        name: "everything to the hook",
        channel_id: hookChannel.id,
        repeat_interval_s: 2,
      });
      await call("POST", "/notification-policies", {
        name: "high to mail",
        channel_id: mailChannel.id,
        min_severity: "high",
      });

      // --- devices and monitors
      const cred = await call("POST", "/credential-profiles", {
        name: "sim",
        type: "winrm_ntlm",
        username: "Administrator",
        password: PASSWORD,
        port: PORTS.http,
      });
      const devices: { id: number; ip: string }[] = [];
      for (const h of sim.hosts) {
        const d = await call("POST", "/devices", { ip: h.ip });
        await call("POST", "/monitors", {
          device_id: d.id,
          credential_profile_id: cred.id,
          plugin_id: 1,
          polling_interval: 10,
        });
        devices.push(d);
      }
      const [one, two, three] = devices;
      const pollNow = (d: { id: number }) =>
        server.call("POST", `/devices/${d.id}/poll`, { token });
      const problemsOf = async (d: { id: number }, state = "") =>
        (await call("GET", `/problems?device_id=${d.id}${state ? `&state=${state}` : ""}`)) as {
          id: number;
          rule_name: string;
          instance: string;
          state: string;
          acknowledged: boolean;
          in_maintenance: boolean;
          resolve_value: number | null;
        }[];

      // --- host one's C: fills past 90 %: one problem, for C: only, after the duration
      sim.setVolumeUsed(one.ip, "C:", 0.93);
      const opened = await eventually("a problem opens for C: on host one", async () => {
        await pollNow(one);
        return (await problemsOf(one, "open")).find((p) => p.rule_name === volume.name);
      });
      assertEquals(opened.instance, "C:");
      const firing = await eventually(
        "the webhook receives the firing notification",
        () =>
          Promise.resolve(webhooks().find((n) => n.problemId === opened.id && n.kind === "firing")),
      );
      assert(firing.signed, "the webhook's HMAC signature verifies");
      assertEquals([firing.deviceIp, firing.instance, firing.severity], [one.ip, "C:", "high"]);
      const mail = await eventually(
        "the email arrives",
        async () =>
          (await smtp.messages()).find((m) => m.subject.includes(one.ip) || m.text?.includes("C:")),
      );
      assertEquals(mail.mode, "starttls");
      assertEquals(mail.auth?.login, smtp.username);

      // Repeats come while unacknowledged; acknowledging stops them.
      await eventually("a repeat notification", () =>
        Promise.resolve(
          webhooks().some((n) =>
            n.problemId === opened.id && n.kind === "firing" && n.sequence > 1
          ),
        ));
      await call("POST", `/problems/${opened.id}/acknowledge`, { comment: "swapping the disk" });
      const afterAck = webhooks().filter((n) => n.problemId === opened.id).length;

      // --- a restart mid-problem: the problem is still open and acknowledged afterwards, and
      // the new process, evaluating samples that still hold the disk full, sends nothing again
      const sentBefore = webhooks().length;
      await server.restart();
      const survived = (await problemsOf(one, "open")).find((p) => p.id === opened.id);
      assert(survived, "the open problem survives the restart");
      assert(survived.acknowledged, "and stays acknowledged");
      const samplesAfterRestart = async () => {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        return Number(/^nmslite_alert_samples_total (\S+)$/m.exec(text)?.[1] ?? 0);
      };
      await eventually("the new process evaluates host one's samples", async () => {
        await pollNow(one);
        return await samplesAfterRestart() >= 3;
      });
      assertEquals(webhooks().length, sentBefore, "nothing sent again after the restart");
      assertEquals(
        (await problemsOf(one)).filter((p) => p.rule_name === volume.name).length,
        1,
        "no second problem for the same volume",
      );

      // --- emptying the disk resolves it and sends "resolved"
      sim.setVolumeUsed(one.ip, "C:", 0.4);
      const resolvedNote = await eventually("the resolved notification", async () => {
        await pollNow(one);
        return webhooks().find((n) => n.problemId === opened.id && n.kind === "resolved");
      });
      const sinceAck = webhooks().filter((n) => n.problemId === opened.id).slice(afterAck);
      assertEquals(
        sinceAck.filter((n) => n.kind === "firing").length,
        0,
        "no repeat after the acknowledgement",
      );
      assert(resolvedNote.signed);
      const oneProblems = await problemsOf(one);
      assertEquals(oneProblems.filter((p) => p.rule_name === volume.name).length, 1);
      assertEquals(oneProblems[0].state, "resolved");
      assert(oneProblems[0].resolve_value! < 85, "resolved by the value past recovery");
      const keys = webhooks().map((n) => n.idempotencyKey);
      assertEquals(new Set(keys).size, keys.length, "no notification delivered twice");

      // --- maintenance holds host two's notification until the window is gone
      const window = await call("POST", "/maintenance-windows", {
        name: "patching",
        scope: { kind: "device", device_id: two.id },
        kind: "once",
        starts_at: new Date(Date.now() - 60_000).toISOString(),
        ends_at: new Date(Date.now() + 3_600_000).toISOString(),
      });
      sim.setVolumeUsed(two.ip, "C:", 0.93);
      const held = await eventually("host two's problem opens in maintenance", async () => {
        await pollNow(two);
        return (await problemsOf(two, "open")).find((p) => p.rule_name === volume.name);
      });
      assert(held.in_maintenance, "marked in maintenance");
      const [{ n: queued }] = await server.ctx.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM notification_outbox WHERE problem_id = $1",
        [held.id],
      );
      assertEquals(queued, 0, "nothing queued during maintenance");
      await call("DELETE", `/maintenance-windows/${window.id}`);
      await eventually(
        "the held notification goes out after the window",
        () =>
          Promise.resolve(webhooks().some((n) => n.problemId === held.id && n.kind === "firing")),
      );

      // --- host three goes dark: "unreachable", and nothing else for host three
      sim.setFault(three.ip, { kind: "hang" });
      const unreachable = await eventually("host three is unreachable", async () => {
        await pollNow(three);
        return (await problemsOf(three, "open")).find((p) => p.rule_name === "Device unreachable");
      });
      // the pollers say a host stopped answering, and how many slots such hosts may hold
      const slowMetrics = await eventually("/metrics counts the silent host", async () => {
        const text = await (await fetch(`${server.url}/metrics`, {
          headers: { authorization: `Bearer ${token}` },
        })).text();
        return /^nmslite_poller_timed_out_hosts 1$/m.test(text) && text;
      });
      const lane = /^nmslite_poller_slow_pool\{kind="slots"\} (\d+)$/m.exec(slowMetrics);
      assert(lane && Number(lane[1]) >= 1, slowMetrics.slice(0, 400));
      // its poll hung past the move-over time (1 s at this timeout): it left the slots
      const moved = /^nmslite_poller_slow_polls_total\{event="moved"\} (\d+)$/m.exec(slowMetrics);
      assert(moved && Number(moved[1]) >= 1, slowMetrics.slice(0, 400));
      // and so does the overview's poller tile, as the server renders it
      const login = await fetch(`${server.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { origin: server.url },
        body: new URLSearchParams({ username: "admin", password: ADMIN_PASSWORD }),
      });
      await login.body?.cancel();
      const cookie = login.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
      const overview = (await (await fetch(`${server.url}/`, { headers: { cookie } })).text())
        .replaceAll("<!-- -->", "");
      const tile =
        /<div class="tile[^"]*"[^>]*>(?:(?!<\/div>).)*poller load(?:(?!<\/div>).)*<\/div>/s
          .exec(overview)?.[0] ?? "";
      assert(
        /1 host not answering in time \(\d+ slow polls wait outside the \d+ slots/.test(tile),
        tile,
      );
      await eventually(
        "the unreachable notification",
        () => Promise.resolve(webhooks().some((n) => n.problemId === unreachable.id)),
      );
      assertEquals(
        (await problemsOf(three)).map((p) => p.rule_name),
        ["Device unreachable"],
        "one cause, one problem",
      );
      assertEquals(
        webhooks().filter((n) => n.deviceIp === three.ip && n.kind === "firing" && n.sequence === 1)
          .length,
        1,
      );

      // --- the delivery log and the outbox are visible
      const log = await call("GET", `/problems/${opened.id}/deliveries`);
      assert(log.length >= 3 && log.every((d: { ok: boolean }) => d.ok), JSON.stringify(log));
      const metrics = await (await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      })).text();
      assert(/nmslite_problems_open\{severity="high"\} [1-9]/.test(metrics), metrics.slice(0, 400));
      assert(metrics.includes("nmslite_notifications_total"));
      assert(metrics.includes("nmslite_notification_outbox_depth"));
    } finally {
      await server.close();
      await smtp.close();
      await hook.close();
      await sim.close();
    }
  },
});
