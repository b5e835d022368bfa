/**
 * A poller node with more hosts than file descriptors: the node (poller.ts, its own process)
 * runs under `ulimit -n 160` and polls 300 simulated Windows hosts every 10 s for a central on
 * loopback. Kept-alive WinRM connections for all of them would need 300 descriptors, so the
 * node must share its limit out as the all-in-one does (lib/os/fd_limit.ts): a budget for its
 * poller Worker's connections, past which a poll reconnects instead of failing.
 *
 * Asserted, not timed: every monitor reaches the central's database twice; no poll fails for
 * want of local resources (exactly 0: the budget is sized before the first connection); the
 * node's budget is below the host count and its /metrics says so; the process never reaches
 * its limit; and the node's own /health answers every request on a new connection meanwhile.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { createScratchDatabase } from "../helpers/databases.ts";
import {
  ADMIN_PASSWORD,
  apiCaller,
  eventually,
  makeTls,
  siteMonitors,
  startCentral,
  startNode,
} from "../helpers/distributed.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { freePort } from "../helpers/ports.ts";
import postgres from "postgres";

const HOSTS = 300;
const LIMIT = 160;
const PASSWORD = "Node-Fd-Passw0rd!";

Deno.test({
  name: `poller node: ${HOSTS} hosts under ulimit -n ${LIMIT}, all polled, none for want of ` +
    "descriptors, its /health answers throughout",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "nmslite-node-fd-" });
    const scratch = await createScratchDatabase();
    const sql = postgres(scratch.url, { max: 2, onnotice: () => {} });
    const winrmPort = await freePort("127.0.62.1");
    const sim = await startWinsim({
      hosts: HOSTS,
      base: "127.0.62.1",
      username: "Administrator",
      password: PASSWORD,
      httpPort: winrmPort,
      httpsPort: null,
      wmi: false,
    });
    // credentials go to a node only over TLS
    const tls = await makeTls(dir);
    const central = await startCentral({ databaseUrl: scratch.url, dir, name: "central", tls });
    const client = Deno.createHttpClient({ caCerts: [tls.cert] });
    let node: Awaited<ReturnType<typeof startNode>> | undefined;
    const fresh = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      const call = apiCaller(central.url, client);
      const login = await call("POST", "/auth/login", {
        username: "admin",
        password: ADMIN_PASSWORD,
      });
      assertEquals(login.status, 200);
      const token = login.body.data.access_token;
      const api = (method: string, path: string, body?: unknown) => call(method, path, body, token);
      const site = (await api("POST", "/sites", { name: "dark-site" })).body.data.id;
      const enrol = await api("POST", "/poller-nodes", { site_id: site, name: "n1" });
      assertEquals(enrol.status, 201, JSON.stringify(enrol.body));
      const cred = (await api("POST", "/credential-profiles", {
        name: "site admins",
        type: "winrm_ntlm",
        username: "Administrator",
        password: PASSWORD,
        port: winrmPort,
      })).body.data.id;
      const monitors = await siteMonitors(api, sim.hosts, site, cred, 8);
      assertEquals(monitors.length, HOSTS);

      node = await startNode({
        centralUrl: central.url,
        dir,
        name: "n1",
        caFile: tls.certFile,
        enrolmentToken: enrol.body.data.enrolment_token,
        nofile: LIMIT,
        env: { NMSLITE_LOG_LEVEL: "info", NMSLITE_POLL_TIMEOUT: "30s" },
      });
      const limits = await Deno.readTextFile(`/proc/${node.pid}/limits`);
      assert(
        new RegExp(`Max open files\\s+${LIMIT}\\s+${LIMIT}\\s`).test(limits),
        `the node runs under the low limit: ${limits.match(/Max open files.*/)?.[0]}`,
      );

      // /health is 503 until the node's channel to the central is up: that is its right answer
      // then, so the watch starts once the node says it is connected
      const started = node;
      await eventually(
        "the node's channel to the central is up",
        async () => (await started.metrics()).nmslite_node_connected === 1,
      );

      let healthOk = 0, peakFds = 0;
      const healthFailures: string[] = [];
      const port = node.port;
      const pid = node.pid;
      const watch = async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/health`, { client: fresh });
          if (res.ok) {
            await res.body?.cancel();
            healthOk++;
          } else healthFailures.push(`HTTP ${res.status} ${await res.text()}`);
        } catch (err) {
          healthFailures.push((err as Error).message);
        }
        let fds = 0;
        for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) fds++;
        peakFds = Math.max(peakFds, fds);
      };

      await eventually("every monitor has two rows at the central", async () => {
        await watch();
        const [r] = await sql`
          SELECT count(*)::int AS n FROM (
            SELECT monitor_id FROM metrics WHERE monitor_id = ANY(${monitors})
            GROUP BY monitor_id HAVING count(DISTINCT ts) >= 2) m`;
        return r.n === HOSTS;
      }, 180_000).catch(async (err) => {
        const [r] = await sql`SELECT count(DISTINCT monitor_id)::int AS monitors,
          count(*)::int AS rows FROM metrics`;
        throw new Error(
          `${err.message}: ${JSON.stringify(r)} at the central; the node's /metrics ` +
            `${JSON.stringify(await node!.metrics().catch(() => null))}; its log:\n` +
            (await node!.log()).slice(-3000),
        );
      });

      // the node's counters come from its Worker's reports (every 2 s): they may trail the rows
      const n = node;
      const m = await eventually("the node counts the polls it shipped", async () => {
        const m = await n.metrics();
        return m.nmslite_node_polls_ok_total >= 2 * HOSTS && m;
      });
      assertEquals(m['nmslite_node_polls_failed_total{class="local_resource"}'], 0);
      // planned, not recovered: no connect met EMFILE (the pool would retry after one)
      assertEquals(m.nmslite_node_winrm_descriptors_exhausted_total, 0);
      const budget = m['nmslite_node_winrm_connections{state="budget"}'];
      assert(budget > 0 && budget < HOSTS, `a budget below the host count: ${budget}`);
      assert(
        m['nmslite_node_winrm_connections{state="open"}'] <= budget,
        `open connections within the budget: ${JSON.stringify(m)}`,
      );
      assert(m.nmslite_node_shipped_rows_total >= 2 * HOSTS, JSON.stringify(m));
      assert(peakFds < LIMIT, `the node stayed below its limit: ${peakFds} of ${LIMIT}`);
      assert(healthOk > 0, "its /health was asked");
      const log = await node.log();
      assertEquals(
        healthFailures,
        [],
        `its /health answered every new connection; the node's log: ${log.slice(-3000)}`,
      );
      assert(
        new RegExp(`descriptors: limit ${LIMIT}, .*WinRM \\d+: ${budget} per poller Worker`)
          .test(log),
        `the node logs its budget: ${log.slice(-2000)}`,
      );
    } finally {
      fresh.close();
      client.close();
      await node?.stop();
      await central.stop();
      await sim.close();
      await sql.end();
      await scratch.drop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
