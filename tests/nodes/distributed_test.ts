/**
 * The distributed shape end to end, every part a real process on loopback: PostgreSQL, two
 * central processes (`--role central`, --deny-write --deny-run) behind a real haproxy that ends
 * TLS, three poller nodes (site A: two, site B: one) trusting haproxy's certificate by CA file,
 * and each site's simulated Windows hosts on its own loopback range.
 *
 * Enrol; rows arrive; work is shared within site A; kill -9 one node of A: its monitors go to
 * the other; kill one central: the session and ingest go on through the other; stop both
 * centrals for a while: nodes buffer, and afterwards site B's rows == its node's successful
 * polls, with no duplicates anywhere; a node restarted keeps its buffer; a node of site B is
 * never sent site A's monitors or credentials; a revoked node gets nothing more.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { createScratchDatabase } from "../helpers/databases.ts";
import {
  ADMIN_PASSWORD,
  type Answer,
  apiCaller,
  eventually,
  makeTls,
  type Proc,
  siteMonitors,
  startCentral,
  startHaproxy,
  startNode,
} from "../helpers/distributed.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { freePort } from "../helpers/ports.ts";
import postgres from "postgres";

const PASSWORD_A = "Site-A-Passw0rd!";
const PASSWORD_B = "Site-B-Passw0rd!";
const CENTRAL_ENV = {
  NMSLITE_NODE_HEARTBEAT: "500ms",
  NMSLITE_NODE_HEARTBEAT_TIMEOUT: "3s",
  // the central's health monitor: two failed polls deactivate, probes every second after 2 s
  NMSLITE_HEALTH_FAILURE_THRESHOLD: "2",
  NMSLITE_HEALTH_FAILURE_WINDOW: "60s",
  NMSLITE_HEALTH_REACTIVATE_AFTER: "2s",
  NMSLITE_HEALTH_PROBE_INTERVAL: "1s",
};

Deno.test({
  name: "distributed: 2 centrals behind haproxy, 3 nodes over 2 sites, failures on every side",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "nmslite-dist-" });
    const scratch = await createScratchDatabase();
    const sql = postgres(scratch.url, { max: 2, onnotice: () => {} });
    const winrmPort = await freePort("127.0.43.1");
    const simA = await startWinsim({
      hosts: 6,
      base: "127.0.43.1",
      username: "Administrator",
      password: PASSWORD_A,
      httpPort: winrmPort,
      httpsPort: null,
      wmi: false, // WinRM only: nothing here needs TCP 135
    });
    const simB = await startWinsim({
      hosts: 2,
      base: "127.0.44.1",
      username: "Administrator",
      password: PASSWORD_B,
      httpPort: winrmPort,
      httpsPort: null,
      wmi: false, // WinRM only: nothing here needs TCP 135
    });
    const tls = await makeTls(dir);
    const ports = [await freePort(), await freePort()];
    const centrals: (Proc & { url: string })[] = [];
    const startC = async (i: number) =>
      centrals[i] = await startCentral({
        databaseUrl: scratch.url,
        dir,
        name: `central-${i}-${Date.now()}`,
        port: ports[i],
        env: CENTRAL_ENV,
      });
    await startC(0);
    await startC(1);
    const lb = await startHaproxy({ dir, tls, backends: ports });
    const client = Deno.createHttpClient({ caCerts: [tls.cert] });
    const call = apiCaller(lb.url, client);
    const nodes: Record<string, Awaited<ReturnType<typeof startNode>>> = {};
    const rowsOf = async (ids: number[]) =>
      (await sql`SELECT count(*)::int AS n FROM metrics WHERE monitor_id = ANY(${ids})`)[0].n;
    try {
      const login = await call("POST", "/auth/login", {
        username: "admin",
        password: ADMIN_PASSWORD,
      });
      assertEquals(login.status, 200);
      const token = login.body.data.access_token;
      const api = (method: string, path: string, body?: unknown) => call(method, path, body, token);

      // --- sites, nodes, credentials, devices, monitors
      const siteA = (await api("POST", "/sites", { name: "site-a" })).body.data.id;
      const siteB = (await api("POST", "/sites", { name: "site-b" })).body.data.id;
      const tokens: Record<string, string> = {};
      const nodeIds: Record<string, number> = {};
      for (const [name, site] of [["a1", siteA], ["a2", siteA], ["b1", siteB]] as const) {
        const r = await api("POST", "/poller-nodes", { site_id: site, name });
        assertEquals(r.status, 201, JSON.stringify(r.body));
        tokens[name] = r.body.data.enrolment_token;
        nodeIds[name] = r.body.data.id;
      }
      const credA = (await api("POST", "/credential-profiles", {
        name: "site a admins",
        type: "winrm_ntlm",
        username: "Administrator",
        password: PASSWORD_A,
        port: winrmPort,
      })).body.data.id;
      const credB = (await api("POST", "/credential-profiles", {
        name: "site b admins",
        type: "winrm_ntlm",
        username: "Administrator",
        password: PASSWORD_B,
        port: winrmPort,
      })).body.data.id;
      const monA = await siteMonitors(api, simA.hosts, siteA, credA);
      const monB = await siteMonitors(api, simB.hosts, siteB, credB);

      for (const name of ["a1", "a2", "b1"]) {
        nodes[name] = await startNode({
          centralUrl: lb.url,
          dir,
          name,
          caFile: tls.certFile,
          enrolmentToken: tokens[name],
        });
      }

      await t.step("enrolled nodes share their site's work and rows arrive", async () => {
        await eventually("a row for every monitor", async () => {
          const [r] = await sql`SELECT count(DISTINCT monitor_id)::int AS n FROM metrics`;
          return r.n === monA.length + monB.length;
        });
        const a1 = (await nodes.a1.metrics()).nmslite_node_monitors;
        const a2 = (await nodes.a2.metrics()).nmslite_node_monitors;
        assertEquals(a1 + a2, monA.length, "each monitor of A on exactly one node");
        assertEquals((await nodes.b1.metrics()).nmslite_node_monitors, monB.length);
        const list = await api("GET", "/poller-nodes");
        assertEquals(
          list.body.data.filter((n: { status: string }) => n.status === "enrolled").length,
          3,
        );
      });

      await t.step(
        "a node-polled device that stops answering is deactivated by the central, and a probe by its site's node brings it back",
        async () => {
          const ip = "127.0.43.50"; // nothing listens here yet
          const d = await api("POST", "/devices", { ip, site_id: siteA });
          assertEquals(d.status, 201, JSON.stringify(d.body));
          const m = await api("POST", "/monitors", {
            device_id: d.body.data.id,
            credential_profile_id: credA,
            plugin_id: 1,
            polling_interval: 10,
          });
          assertEquals(m.status, 201, JSON.stringify(m.body));
          const device = async () => (await api("GET", `/devices/${d.body.data.id}`)).body.data;
          const down = await eventually("the device is unreachable", async () => {
            const dev = await device();
            return dev.status === "unreachable" && dev;
          });
          assert(/failed polls/.test(down.status_reason), down.status_reason);
          // its monitor left the nodes' work
          await eventually("no node polls it", async () => {
            const a1 = (await nodes.a1.metrics()).nmslite_node_monitors;
            const a2 = (await nodes.a2.metrics()).nmslite_node_monitors;
            return a1 + a2 === monA.length;
          });
          const back = await startWinsim({
            hosts: 1,
            base: ip,
            username: "Administrator",
            password: PASSWORD_A,
            httpPort: winrmPort,
            httpsPort: null,
          });
          try {
            const up = await eventually("a node's probe brings it back", async () => {
              const dev = await device();
              return dev.status === "monitoring" && dev;
            });
            assert(/answered a reachability probe/.test(up.status_reason), up.status_reason);
            await eventually(
              "rows again",
              async () => (await rowsOf([m.body.data.id])) > 0,
            );
          } finally {
            // leave site A as the later steps expect it
            assertEquals((await api("DELETE", `/monitors/${m.body.data.id}`)).status, 204);
            assertEquals((await api("DELETE", `/devices/${d.body.data.id}`)).status, 204);
            await back.close();
          }
        },
      );

      await t.step("kill -9 a node of site A: its monitors resume on the other", async () => {
        await nodes.a1.kill9();
        const killedAt = new Date();
        await eventually(
          "a2 holds all of site A",
          async () => (await nodes.a2.metrics()).nmslite_node_monitors === monA.length,
        );
        await eventually("every monitor of A has a row after the kill", async () => {
          const [r] = await sql`SELECT count(DISTINCT monitor_id)::int AS n FROM metrics
            WHERE monitor_id = ANY(${monA}) AND ts > ${killedAt}`;
          return r.n === monA.length;
        });
      });

      await t.step("kill one central: the session and ingest go on via the other", async () => {
        await centrals[0].kill9();
        const at = new Date();
        for (let i = 0; i < 5; i++) {
          const r = await api("GET", "/devices?limit=50");
          assertEquals(r.status, 200, JSON.stringify(r.body));
        }
        await eventually("rows of every monitor of B after the kill", async () => {
          const [r] = await sql`SELECT count(DISTINCT monitor_id)::int AS n FROM metrics
            WHERE monitor_id = ANY(${monB}) AND ts > ${at}`;
          return r.n === monB.length;
        });
        // a change made now (through the live central) reaches the nodes
        await startC(0);
      });

      await t.step("both centrals away: nodes buffer, then drain with nothing lost", async () => {
        await Promise.all(centrals.map((c) => c.stop()));
        await eventually(
          "b1 buffers",
          async () => (await nodes.b1.metrics()).nmslite_node_buffered_batches >= 2,
        );
        await eventually(
          "a2 buffers",
          async () => (await nodes.a2.metrics()).nmslite_node_buffered_batches >= 2,
        );
        await startC(0);
        await startC(1);
        // the killed node comes back with what it had buffered, and no token
        nodes.a1 = await startNode({ centralUrl: lb.url, dir, name: "a1", caFile: tls.certFile });
        // stop all polling so the counts settle
        for (const id of [...monA, ...monB]) {
          const r = await api("PUT", `/monitors/${id}`, { enabled: false });
          assertEquals(r.status, 200, JSON.stringify(r.body));
        }
        const settled = async (name: string) =>
          await eventually(`${name} settled`, async () => {
            const a = await nodes[name].metrics();
            // the node's poll counters come from its pollers' stats, sent every 2 s: unchanged
            // across two of those periods means the last poll is counted
            await new Promise((r) => setTimeout(r, 4_500));
            const b = await nodes[name].metrics();
            return b.nmslite_node_monitors === 0 && b.nmslite_node_buffered_batches === 0 &&
              a.nmslite_node_polls_total === b.nmslite_node_polls_total && b;
          });
        const b1 = await settled("b1");
        await settled("a1");
        await settled("a2");
        assertEquals(
          await rowsOf(monB),
          b1.nmslite_node_polls_ok_total,
          "rows == successful polls",
        );
        const [d] = await sql`SELECT count(*)::int AS n, count(DISTINCT (monitor_id, ts))::int AS u
          FROM metrics`;
        assertEquals(d.n, d.u, "no duplicate rows");
        assertEquals(b1.nmslite_node_dropped_batches_total, 0);
      });

      await t.step("a node of site B never receives site A's work or credentials", async () => {
        for (const id of [...monA, ...monB]) await api("PUT", `/monitors/${id}`, { enabled: true });
        // a second node of B, spoken to by the test itself over the real protocol
        const r = await api("POST", "/poller-nodes", { site_id: siteB, name: "b-probe" });
        const enrol = await call("POST", "/nodes/enrol", {
          token: r.body.data.enrolment_token,
          version: "test",
        });
        assertEquals(enrol.status, 200);
        const res = await fetch(`${lb.url}/api/v1/nodes/channel`, {
          client,
          headers: { authorization: `Bearer ${enrol.body.data.secret}` },
        } as RequestInit);
        const reader = res.body!.getReader();
        let text = "";
        const seen: { monitors: number[]; creds: number[]; passwords: string[] }[] = [];
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && seen.length < 1) {
          const { value, done } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
          for (const ev of text.split("\n\n").slice(0, -1)) {
            const data = ev.split("\n").find((l) => l.startsWith("data: "));
            if (!data) continue;
            const msg = JSON.parse(data.slice(6));
            if (msg.type !== "assignment") continue;
            seen.push({
              monitors: msg.monitors.map((m: { monitorId: number }) => m.monitorId),
              creds: msg.credentials.map((c: { id: number }) => c.id),
              passwords: msg.credentials.map((c: { password: string }) => c.password),
            });
          }
          text = text.slice(text.lastIndexOf("\n\n") + 2);
        }
        await reader.cancel();
        assert(seen.length > 0, "an assignment arrived");
        for (const s of seen) {
          assert(s.monitors.every((id) => monB.includes(id)), "only monitors of B");
          assert(!s.creds.includes(credA), "never site A's credential");
          assert(!s.passwords.includes(PASSWORD_A), "never site A's password");
        }
        assertEquals((await api("DELETE", `/poller-nodes/${r.body.data.id}`)).status, 204);
      });

      await t.step(
        "a credential test for site B runs on its node, via either central",
        async () => {
          for (let i = 0; i < 8; i++) {
            // the first one follows at once the revocation of b-probe above: it must go to b1
            const r = await api("POST", `/credential-profiles/${credB}/test`, {
              ip: simB.hosts[0].ip,
            });
            assertEquals(r.status, 200, JSON.stringify(r.body));
            assertEquals(r.body.data.ok, true, JSON.stringify(r.body));
            assertEquals(r.body.data.identity.hostname, simB.hosts[0].name);
          }
        },
      );

      await t.step(
        "discovery of site B runs on its node, via either central; a site with no node gets 503",
        async () => {
          const profile = await api("POST", "/discovery-profiles", {
            name: "site b range",
            credential_profile_id: credB,
            target: "127.0.44.0/29",
            ports: [winrmPort],
            site_id: siteB,
          });
          assertEquals(profile.status, 201, JSON.stringify(profile.body));
          const started = await api("POST", `/discovery-profiles/${profile.body.data.id}/run`);
          assertEquals(started.status, 202, JSON.stringify(started.body));
          const run = await eventually("the run ends", async () => {
            const r = (await api("GET", `/discovery-runs/${started.body.data.id}`)).body.data;
            return r.status !== "running" && r.status !== "queued" && r;
          });
          assertEquals(run.status, "completed", JSON.stringify(run));
          assertEquals(run.addresses_scanned, 8, JSON.stringify(run));
          assertEquals(run.identified, simB.hosts.length, JSON.stringify(run));
          assertEquals(run.device_ids.length, simB.hosts.length);
          const dev = (await api("GET", `/devices/${run.device_ids[0]}`)).body.data;
          assertEquals(dev.site_id, siteB);
          assert(simB.hosts.some((h) => h.name === dev.hostname), dev.hostname);
          // wait=true through the balancer: the other central may hold the node's channel
          for (let i = 0; i < 2; i++) {
            const r = await api(
              "POST",
              `/discovery-profiles/${profile.body.data.id}/run?wait=true`,
            );
            assertEquals(r.status, 200, JSON.stringify(r.body));
            assertEquals(r.body.data.found, simB.hosts.length, JSON.stringify(r.body));
          }
          const siteC = (await api("POST", "/sites", { name: "site-c" })).body.data.id;
          const lonely = await api("POST", "/discovery-profiles", {
            name: "site c range",
            credential_profile_id: credB,
            target: "127.0.45.0/30",
            ports: [winrmPort],
            site_id: siteC,
          });
          assertEquals(lonely.status, 201, JSON.stringify(lonely.body));
          const refused = await api("POST", `/discovery-profiles/${lonely.body.data.id}/run`);
          assertEquals(refused.status, 503, JSON.stringify(refused.body));
          assertEquals(refused.body.error.code, "NO_POLLER_NODE");
        },
      );

      await t.step(
        "a discovery run cancelled through the other central stops its scan on the node",
        async () => {
          const direct = async (i: number, method: string, path: string) => {
            const res = await fetch(`${centrals[i].url}/api/v1${path}`, {
              method,
              headers: { authorization: `Bearer ${token}` },
            });
            const text = await res.text();
            return { status: res.status, body: text ? JSON.parse(text) : null } as Answer;
          };
          // 65,536 loopback addresses where nothing listens: a scan that takes a while
          const profile = await api("POST", "/discovery-profiles", {
            name: "site b wide",
            credential_profile_id: credB,
            target: "127.9.0.0/16",
            ports: [winrmPort],
            site_id: siteB,
          });
          assertEquals(profile.status, 201, JSON.stringify(profile.body));
          const started = await direct(
            0,
            "POST",
            `/discovery-profiles/${profile.body.data.id}/run`,
          );
          assertEquals(started.status, 202, JSON.stringify(started.body));
          const runId = started.body.data.id;
          await eventually(
            "the node scans",
            async () => (await nodes.b1.metrics()).nmslite_node_discoveries_running === 1,
          );
          // central 1 does not run it: it passes the cancel on to central 0, which tells the node
          const cancelled = await direct(1, "POST", `/discovery-runs/${runId}/cancel`);
          assertEquals(cancelled.status, 200, JSON.stringify(cancelled.body));
          assertEquals(cancelled.body.data.status, "cancelled", JSON.stringify(cancelled.body));
          await eventually(
            "the node stops scanning",
            async () => (await nodes.b1.metrics()).nmslite_node_discoveries_running === 0,
            10_000,
          );
          const run = (await api("GET", `/discovery-runs/${runId}`)).body.data;
          assertEquals(run.status, "cancelled");
          assert(run.addresses_scanned < 65_536, `scanned ${run.addresses_scanned}`);
          // a cancel of a run that has ended is refused, on either central
          for (const i of [0, 1]) {
            const again = await direct(i, "POST", `/discovery-runs/${runId}/cancel`);
            assertEquals(again.status, 409, JSON.stringify(again.body));
          }
        },
      );

      await t.step(
        "a logout or a role change on one central is effective on the other at once (cached state evicted)",
        async () => {
          const direct = async (
            i: number,
            method: string,
            path: string,
            body?: unknown,
            bearer?: string,
          ) => {
            const res = await fetch(`${centrals[i].url}/api/v1${path}`, {
              method,
              headers: {
                "content-type": "application/json",
                ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
              },
              body: body === undefined ? undefined : JSON.stringify(body),
            });
            const text = await res.text();
            return { status: res.status, body: text ? JSON.parse(text) : null } as Answer;
          };
          const user = await api("POST", "/users", {
            username: "op-dist",
            password: "Op-Dist-Passw0rd!",
            role: "operator",
          });
          assertEquals(user.status, 201, JSON.stringify(user.body));
          const session = await direct(0, "POST", "/auth/login", {
            username: "op-dist",
            password: "Op-Dist-Passw0rd!",
          });
          assertEquals(session.status, 200);
          const access = session.body.data.access_token;
          // central 1 caches this login's state (for 5 s without a notice)
          assertEquals((await direct(1, "GET", "/devices?limit=1", undefined, access)).status, 200);
          assertEquals(
            (await direct(0, "POST", "/auth/logout", {
              refresh_token: session.body.data.refresh_token,
            })).status,
            204,
          );
          // well inside the cache's 5 s: only the notice can make central 1 refuse it
          await eventually(
            "central 1 refuses the logged-out token",
            async () =>
              (await direct(1, "GET", "/devices?limit=1", undefined, access)).status === 401,
            2_000,
          );
          // a role change made through central 1 holds on central 0 at its next request
          const again = await direct(0, "POST", "/auth/login", {
            username: "op-dist",
            password: "Op-Dist-Passw0rd!",
          });
          const token2 = again.body.data.access_token;
          assertEquals((await direct(0, "GET", "/devices?limit=1", undefined, token2)).status, 200);
          const changed = await direct(1, "PUT", `/users/${user.body.data.id}`, {
            role: "viewer",
          }, token);
          assertEquals(changed.status, 200, JSON.stringify(changed.body));
          await eventually(
            "central 0 refuses the token issued before the role change",
            async () =>
              (await direct(0, "GET", "/devices?limit=1", undefined, token2)).status === 401,
            2_000,
          );
        },
      );

      await t.step("revoke a node: it gets nothing more", async () => {
        assertEquals((await api("POST", `/poller-nodes/${nodeIds.b1}/revoke`)).status, 200);
        await eventually(
          "b1 knows it is revoked",
          async () => (await nodes.b1.metrics()).nmslite_node_revoked === 1,
        );
        assertEquals((await nodes.b1.metrics()).nmslite_node_monitors, 0);
        const before = await rowsOf(monB);
        // several intervals: a revoked node's requests are all refused
        await new Promise((r) => setTimeout(r, 12_000));
        assertEquals(await rowsOf(monB), before, "no row of B after the revocation");
      });
    } catch (err) {
      for await (const e of Deno.readDir(dir)) {
        if (!e.name.endsWith(".log")) continue;
        const log = await Deno.readTextFile(`${dir}/${e.name}`).catch(() => "");
        console.error(`--- ${e.name}\n${log.slice(-2500)}`);
      }
      throw err;
    } finally {
      for (const n of Object.values(nodes)) await n.stop();
      for (const c of centrals) await c.stop();
      await lb.stop();
      client.close();
      await simA.close();
      await simB.close();
      await sql.end();
      await scratch.drop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
