/**
 * Alerting in the central role, all real processes on loopback: a central (`main.ts --role
 * central`, PostgreSQL, HTTPS), one poller node (`poller.ts`) polling a simulated Windows host,
 * and a webhook receiver. The central polls nothing itself; the node's results arrive through
 * POST /ingest, and a volume crossing a rule's threshold there opens one problem and notifies
 * once through the webhook channel.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { createScratchDatabase } from "../helpers/databases.ts";
import {
  ADMIN_PASSWORD,
  apiCaller,
  eventually,
  makeTls,
  startCentral,
  startNode,
} from "../helpers/distributed.ts";
import { startWebhookReceiver } from "../helpers/webhook_receiver.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { freePort } from "../helpers/ports.ts";
import type { Notification } from "../../lib/alerting/notification.ts";
import postgres from "postgres";

const PASSWORD = "Central-Alert-Passw0rd!";

Deno.test({
  name: "central role: node results are evaluated, a problem opens once and notifies once",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "nmslite-central-alert-" });
    const scratch = await createScratchDatabase();
    const sql = postgres(scratch.url, { max: 2, onnotice: () => {} });
    const httpPort = await freePort("127.0.46.1");
    const sim = await startWinsim({
      hosts: 1,
      base: "127.0.46.1",
      username: "Administrator",
      password: PASSWORD,
      httpPort,
      httpsPort: null,
    });
    const rx = await startWebhookReceiver();
    const tls = await makeTls(dir);
    const central = await startCentral({
      databaseUrl: scratch.url,
      dir,
      name: "central",
      tls,
      env: { NMSLITE_NODE_HEARTBEAT: "500ms", NMSLITE_NODE_HEARTBEAT_TIMEOUT: "3s" },
    });
    const client = Deno.createHttpClient({ caCerts: [tls.cert] });
    const call = apiCaller(central.url, client);
    let node: { stop(): Promise<void> } | undefined;
    try {
      const login = await call("POST", "/auth/login", {
        username: "admin",
        password: ADMIN_PASSWORD,
      });
      assertEquals(login.status, 200);
      const token = login.body.data.access_token;
      const api = (method: string, path: string, body?: unknown) => call(method, path, body, token);

      // A rule any used volume crosses, and a webhook channel every problem goes to.
      const rule = await api("POST", "/alert-rules", {
        name: "Volume above 1 % used",
        metric: "volume_used_percent",
        operator: ">",
        threshold: 1,
        for_seconds: 0,
        severity: "high",
        scope: { kind: "all" },
      });
      assertEquals(rule.status, 201, JSON.stringify(rule.body));
      const channel = await api("POST", "/notification-channels", {
        name: "hook",
        type: "webhook",
        settings: { url: `${rx.url}/hook` },
      });
      assertEquals(channel.status, 201, JSON.stringify(channel.body));
      const policy = await api("POST", "/notification-policies", {
        name: "all to hook",
        channel_id: channel.body.data.id,
      });
      assertEquals(policy.status, 201, JSON.stringify(policy.body));

      const site = (await api("POST", "/sites", { name: "branch" })).body.data.id;
      const created = await api("POST", "/poller-nodes", { site_id: site, name: "n-1" });
      assertEquals(created.status, 201, JSON.stringify(created.body));
      const cred = await api("POST", "/credential-profiles", {
        name: "sim",
        type: "winrm_ntlm",
        username: "Administrator",
        password: PASSWORD,
        port: httpPort,
      });
      assertEquals(cred.status, 201);
      const device = await api("POST", "/devices", { ip: sim.hosts[0].ip, site_id: site });
      assertEquals(device.status, 201, JSON.stringify(device.body));
      const monitor = await api("POST", "/monitors", {
        device_id: device.body.data.id,
        credential_profile_id: cred.body.data.id,
        plugin_id: 1,
        polling_interval: 10,
      });
      assertEquals(monitor.status, 201, JSON.stringify(monitor.body));

      node = await startNode({
        centralUrl: central.url,
        dir,
        name: "n-1",
        caFile: tls.certFile,
        enrolmentToken: created.body.data.enrolment_token,
      });

      // The node's rows reach the central, and alerting there opens the problem and notifies.
      const notified = await eventually("a firing notification for the node-polled host", () => {
        const got = rx.received.map((r) => JSON.parse(r.body) as Notification)
          .filter((n) => n.ruleId === rule.body.data.id);
        return Promise.resolve(got.length ? got : undefined);
      });
      assertEquals(notified[0].kind, "firing");
      assertEquals(notified[0].deviceIp, sim.hosts[0].ip);
      const problems = await api(
        "GET",
        `/problems?state=open&device_id=${device.body.data.id}&limit=100`,
      );
      assertEquals(problems.status, 200, JSON.stringify(problems.body));
      const ours = problems.body.data.filter((p: { rule_id: number }) =>
        p.rule_id === rule.body.data.id
      );
      assert(ours.length >= 1, JSON.stringify(problems.body.data));
      assert(
        ours.some((p: { id: number }) => p.id === notified[0].problemId),
        "the notification names an open problem of the rule",
      );

      // More node batches arrive: the problem stays one, nothing is sent again.
      const [{ n: rowsBefore }] = await sql`SELECT count(*)::int AS n FROM metrics`;
      await eventually("two more node rows", async () => {
        const [{ n }] = await sql`SELECT count(*)::int AS n FROM metrics`;
        return n >= rowsBefore + 2;
      });
      const [{ n: open }] = await sql`SELECT count(*)::int AS n FROM problems
        WHERE rule_id = ${rule.body.data.id} AND state = 'open'`;
      const [{ n: instances }] = await sql`SELECT count(DISTINCT instance)::int AS n FROM problems
        WHERE rule_id = ${rule.body.data.id}`;
      assertEquals(open, instances, "one open problem per volume");
      const [{ n: queued }] = await sql`SELECT count(*)::int AS n FROM notification_outbox o
        JOIN problems p ON p.id = o.problem_id WHERE p.rule_id = ${rule.body.data.id}`;
      assertEquals(queued, instances, "one firing notification per problem");
      await eventually("every queued notification delivered", async () => {
        const [{ n }] = await sql`SELECT count(*)::int AS n FROM notification_outbox
          WHERE status = 'pending'`;
        return n === 0;
      });
      const repeated = [...rx.byKey].filter(([, n]) => n > 1);
      assertEquals(repeated, [], "each notification received once");
    } catch (err) {
      console.error(await central.log());
      console.error(
        await sql`SELECT id, rule_id, instance, state, opened_at, resolved_at FROM problems`,
      );
      console.error(
        await sql`SELECT id, problem_id, idempotency_key, kind, status FROM notification_outbox`,
      );
      throw err;
    } finally {
      await node?.stop();
      await central.stop();
      client.close();
      await rx.close();
      await sim.close();
      await sql.end();
      await scratch.drop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
