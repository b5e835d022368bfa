/**
 * A poller node end to end, all real processes on loopback: a central (`main.ts --role
 * central`, --deny-write --deny-run, PostgreSQL, HTTPS with its own certificate), one node
 * (`poller.ts`) trusting that certificate by CA file, and simulated Windows hosts. Enrolment,
 * work pushed at once, rows arriving, the central away (the node buffers, then drains: rows ==
 * successful polls, no duplicates), ingest refusals, revocation.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { createScratchDatabase } from "../helpers/databases.ts";
import {
  ADMIN_PASSWORD,
  eventually,
  makeTls,
  startCentral,
  startNode,
} from "../helpers/distributed.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { freePort } from "../helpers/ports.ts";
import postgres from "postgres";
import { gzipSync } from "node:zlib";

const PASSWORD = "Node-Sim-Passw0rd!";

Deno.test({
  name: "poller node: enrol, poll, buffer while the central is away, ingest refusals, revoke",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "nmslite-node-" });
    const scratch = await createScratchDatabase();
    const sql = postgres(scratch.url, { max: 2, onnotice: () => {} });
    const httpPort = await freePort("127.0.41.1");
    const sim = await startWinsim({
      hosts: 4,
      base: "127.0.41.1",
      username: "Administrator",
      password: PASSWORD,
      httpPort,
      httpsPort: null,
      wmi: false, // WinRM only: TCP 135 on these addresses stays free for other tests
    });
    const tls = await makeTls(dir);
    const centralPort = await freePort();
    let central = await startCentral({
      databaseUrl: scratch.url,
      dir,
      name: "central",
      tls,
      port: centralPort,
      env: { NMSLITE_NODE_HEARTBEAT: "500ms", NMSLITE_NODE_HEARTBEAT_TIMEOUT: "3s" },
    });
    const client = Deno.createHttpClient({ caCerts: [tls.cert] });
    const call = async (
      method: string,
      path: string,
      body?: unknown,
      token?: string,
      // deno-lint-ignore no-explicit-any
    ): Promise<any> => {
      const res = await fetch(`${central.url}/api/v1${path}`, {
        method,
        client,
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined
          ? undefined
          : typeof body === "string"
          ? body
          : JSON.stringify(body),
      } as RequestInit);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    const nodes: { stop(): Promise<void> }[] = [];
    try {
      const login = await call("POST", "/auth/login", {
        username: "admin",
        password: ADMIN_PASSWORD,
      });
      assertEquals(login.status, 200);
      const token = login.body.data.access_token;
      const api = (method: string, path: string, body?: unknown) => call(method, path, body, token);

      const site = await api("POST", "/sites", { name: "branch-a" });
      assertEquals(site.status, 201, JSON.stringify(site.body));
      const siteId = site.body.data.id;
      const created = await api("POST", "/poller-nodes", { site_id: siteId, name: "a-1" });
      assertEquals(created.status, 201, JSON.stringify(created.body));
      const enrolment = created.body.data.enrolment_token;
      assert(typeof enrolment === "string" && enrolment.length > 30, "token shown once");
      const again = await api("GET", `/poller-nodes/${created.body.data.id}`);
      assertEquals(again.body.data.enrolment_token, undefined, "never shown again");

      const cred = await api("POST", "/credential-profiles", {
        name: "sim",
        type: "winrm_ntlm",
        username: "Administrator",
        password: PASSWORD,
        port: httpPort,
      });
      assertEquals(cred.status, 201);
      const monitorIds: number[] = [];
      for (const h of sim.hosts) {
        const d = await api("POST", "/devices", { ip: h.ip, site_id: siteId });
        assertEquals(d.status, 201, JSON.stringify(d.body));
        assertEquals(d.body.data.site_id, siteId);
        const m = await api("POST", "/monitors", {
          device_id: d.body.data.id,
          credential_profile_id: cred.body.data.id,
          plugin_id: 1,
          polling_interval: 10,
        });
        assertEquals(m.status, 201);
        monitorIds.push(m.body.data.id);
      }

      // A second node of the site, spoken to by the test itself, holds its channel open before
      // the real node connects (so it is the first this central knows of) and never answers.
      const probe = await api("POST", "/poller-nodes", { site_id: siteId, name: "a-probe" });
      assertEquals(probe.status, 201, JSON.stringify(probe.body));
      const probeEnrol = await call("POST", "/nodes/enrol", {
        token: probe.body.data.enrolment_token,
        version: "test",
      });
      assertEquals(probeEnrol.status, 200, JSON.stringify(probeEnrol.body));
      const probeChannel = await fetch(`${central.url}/api/v1/nodes/channel`, {
        client,
        headers: { authorization: `Bearer ${probeEnrol.body.data.secret}` },
      } as RequestInit);
      assertEquals(probeChannel.status, 200);

      // --- enrol: the token is exchanged for a credential kept with mode 0600
      const node = await startNode({
        centralUrl: central.url,
        dir,
        name: "a-1",
        caFile: tls.certFile,
        enrolmentToken: enrolment,
      });
      nodes.push(node);
      const identity = JSON.parse(await Deno.readTextFile(`${node.dataDir}/node.json`));
      assertEquals((await Deno.stat(`${node.dataDir}/node.json`)).mode! & 0o777, 0o600);
      const reuse = await call("POST", "/nodes/enrol", { token: enrolment, version: "x" });
      assertEquals(reuse.status, 401, "the enrolment token is one-time");
      // a node credential opens no user route
      assertEquals((await call("GET", "/devices", undefined, identity.secret)).status, 401);

      // The probe is revoked once the real node is connected; a command sent the same instant
      // goes to the node still enrolled, never to the revoked one's channel (not closed yet).
      await eventually(
        "the node is connected",
        async () => (await node.metrics()).nmslite_node_connected === 1,
      );
      assertEquals((await api("DELETE", `/poller-nodes/${probe.body.data.id}`)).status, 204);
      const right = await api("POST", `/credential-profiles/${cred.body.data.id}/test`, {
        ip: sim.hosts[0].ip,
      });
      assertEquals(right.status, 200, JSON.stringify(right.body));
      assertEquals(right.body.data.ok, true, JSON.stringify(right.body));
      assertEquals(right.body.data.identity.hostname, sim.hosts[0].name);
      await probeChannel.body!.cancel();

      // --- rows arrive for every monitor
      await eventually("a row for every monitor", async () => {
        const [r] = await sql`SELECT count(DISTINCT monitor_id)::int AS n FROM metrics`;
        return r.n === monitorIds.length;
      });
      const listed = await api("GET", "/poller-nodes");
      const me = listed.body.data.find((n: { id: number }) => n.id === identity.node_id);
      assertEquals(me.status, "enrolled");
      assert(me.last_heartbeat, "heartbeat recorded");
      // the node's figures (by heartbeat, or with its ingest requests) reach the Pollers page
      await eventually("the node's figures are listed", async () => {
        const all = (await api("GET", "/poller-nodes")).body.data;
        const stats = all.find((n: { id: number }) => n.id === identity.node_id)?.stats;
        return stats?.monitors === monitorIds.length && stats?.polls_per_s > 0;
      });

      // a credential test for a device of the site runs on the site's node
      const tested = await api("POST", `/credential-profiles/${cred.body.data.id}/test`, {
        ip: sim.hosts[1].ip,
      });
      assertEquals(tested.status, 200, JSON.stringify(tested.body));
      assertEquals(tested.body.data.ok, true, JSON.stringify(tested.body));
      assertEquals(tested.body.data.identity.hostname, sim.hosts[1].name);

      // nothing secret on the node's disk beyond its own credential
      for await (const e of Deno.readDir(node.dataDir)) {
        if (!e.isFile) continue;
        const bytes = await Deno.readFile(`${node.dataDir}/${e.name}`);
        const text = new TextDecoder("latin1").decode(bytes);
        assert(!text.includes(PASSWORD), `${e.name} holds a host password`);
      }

      // --- a change reaches the node at once: disable one monitor, its rows stop
      const off = monitorIds[0];
      assertEquals((await api("PUT", `/monitors/${off}`, { enabled: false })).status, 200);
      await eventually(
        "the node dropped the disabled monitor",
        async () => (await node.metrics()).nmslite_node_monitors === monitorIds.length - 1,
      );

      // --- the central goes away: the node buffers, then drains
      await central.stop();
      await eventually(
        "the node buffers",
        async () => (await node.metrics()).nmslite_node_buffered_batches > 3,
      );
      central = await startCentral({
        databaseUrl: scratch.url,
        dir,
        name: "central-2",
        tls,
        port: centralPort,
        env: { NMSLITE_NODE_HEARTBEAT: "500ms", NMSLITE_NODE_HEARTBEAT_TIMEOUT: "3s" },
      });
      // stop the polling, so the counts can settle
      for (const id of monitorIds.slice(1)) {
        assertEquals((await api("PUT", `/monitors/${id}`, { enabled: false })).status, 200);
      }
      await eventually(
        "nothing assigned",
        async () => (await node.metrics()).nmslite_node_monitors === 0,
      );
      const settled = await eventually("the buffer drained", async () => {
        const m = await node.metrics();
        return m.nmslite_node_buffered_batches === 0 && m;
      });
      await new Promise((r) => setTimeout(r, 1_000)); // a poll still running when disabled
      // the node's poll counters come from its pollers' stats, sent every 2 s: unchanged
      // across two of those periods means the last poll is counted
      const final = await eventually("buffer empty and stable", async () => {
        const a = await node.metrics();
        await new Promise((r) => setTimeout(r, 4_500));
        const b = await node.metrics();
        return a.nmslite_node_polls_ok_total === b.nmslite_node_polls_ok_total &&
          b.nmslite_node_buffered_batches === 0 && b;
      });
      assert(settled.nmslite_node_polls_ok_total > 0);
      const [rows] = await sql`SELECT count(*)::int AS n,
        count(DISTINCT (monitor_id, ts))::int AS distinct_rows FROM metrics`;
      assertEquals(rows.n, final.nmslite_node_polls_ok_total, "rows == successful polls");
      assertEquals(rows.n, rows.distinct_rows, "no duplicates");
      assertEquals(final.nmslite_node_dropped_batches_total, 0);
      // the central (no polling of its own) shows its ingest writer's figures on /metrics
      const centralMetrics =
        await (await fetch(`${central.url}/metrics`, { client } as RequestInit))
          .text();
      const metric = (name: string) =>
        Number(centralMetrics.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1] ?? NaN);
      assert(
        metric(String.raw`nmslite_writer_rows_total\{result="inserted"\}`) > 0,
        "the central counts the rows it committed",
      );
      assert(
        metric("nmslite_poll_to_row_seconds_count") > 0,
        "poll-to-row measured on the central",
      );

      // --- ingest refuses bad input, naming it, writing nothing
      const ingest = (body: unknown, secret = identity.secret) =>
        call("POST", "/ingest", body, secret);
      const sample = (monitorId: number, ts: number) => ({
        monitorId,
        ts,
        cpuPercent: 1,
        memoryTotal: null,
        memoryUsed: null,
        diskTotal: null,
        diskUsed: null,
        netSentBps: null,
        netRecvBps: null,
        netPacketsSent: null,
        netPacketsRecv: null,
        netErrors: null,
        netDiscards: null,
        netUtilization: null,
        processCount: null,
        collectionMs: null,
        volumes: null,
        interfaces: null,
      });
      const batch = (samples: unknown[]) => ({
        batches: [{ v: 1, batchId: crypto.randomUUID(), samples, outcomes: [] }],
      });
      const before = (await sql`SELECT count(*)::int AS n FROM metrics`)[0].n;
      const malformed = await ingest({ batches: [{ v: 1, samples: "no" }] });
      assertEquals([malformed.status, malformed.body.error.code], [400, "MALFORMED_BATCH"]);
      const future = await ingest(batch([sample(monitorIds[1], Date.now() + 86_400_000)]));
      assertEquals([future.status, future.body.error.code], [400, "TIMESTAMP_IN_FUTURE"]);
      const localDevice = await api("POST", "/devices", { ip: "127.0.41.250" });
      const localMonitor = await api("POST", "/monitors", {
        device_id: localDevice.body.data.id,
        credential_profile_id: cred.body.data.id,
        plugin_id: 1,
        polling_interval: 60,
        enabled: false,
      });
      const foreign = await ingest(batch([sample(localMonitor.body.data.id, Date.now())]));
      assertEquals([foreign.status, foreign.body.error.code], [403, "MONITOR_NOT_OF_SITE"]);
      const huge = await ingest(
        batch(Array.from({ length: 20_001 }, (_, i) => sample(monitorIds[1], Date.now() - i))),
      );
      assert([413].includes(huge.status), `oversized: ${huge.status}`);
      const unknown = await ingest(batch([sample(monitorIds[1], Date.now())]), "nmsn_nobody");
      assertEquals([unknown.status, unknown.body.error.code], [401, "NODE_UNKNOWN"]);
      // compressed bodies (nodes gzip theirs): an unknown encoding, a body that is not gzip and
      // one that inflates past the body limit are refused by name
      const ingestBytes = async (bytes: Uint8Array, encoding: string) => {
        const res = await fetch(`${central.url}/api/v1/ingest`, {
          method: "POST",
          client,
          body: bytes,
          headers: {
            authorization: `Bearer ${identity.secret}`,
            "content-type": "application/json",
            "content-encoding": encoding,
          },
        } as RequestInit);
        return { status: res.status, body: await res.json() };
      };
      const good1 = new TextEncoder().encode(
        JSON.stringify(batch([sample(monitorIds[1], Date.now() - 6_000)])),
      );
      const brotli = await ingestBytes(good1, "br");
      assertEquals([brotli.status, brotli.body.error.code], [415, "UNSUPPORTED_MEDIA_TYPE"]);
      const notGzip = await ingestBytes(good1, "gzip");
      assertEquals([notGzip.status, notGzip.body.error.code], [400, "MALFORMED_BATCH"]);
      const bomb = await ingestBytes(gzipSync(new Uint8Array(4 * 1024 * 1024).fill(32)), "gzip");
      assertEquals([bomb.status, bomb.body.error.code], [413, "PAYLOAD_TOO_LARGE"]);
      assertEquals((await sql`SELECT count(*)::int AS n FROM metrics`)[0].n, before);
      // a good batch is idempotent
      const good = batch([sample(monitorIds[1], Date.now() - 5_000)]);
      assertEquals((await ingest(good)).status, 200);
      assertEquals((await ingest(good)).status, 200);
      assertEquals((await sql`SELECT count(*)::int AS n FROM metrics`)[0].n, before + 1);
      const zipped = await ingestBytes(gzipSync(good1), "gzip");
      assertEquals(zipped.status, 200, JSON.stringify(zipped.body));
      assertEquals(zipped.body.data.inserted, 1);
      assertEquals((await sql`SELECT count(*)::int AS n FROM metrics`)[0].n, before + 2);
      // The central remembers each monitor's site: moving a monitor to another site's device
      // takes effect at the next request, either way.
      const siteADevice = (await api("POST", "/devices", { ip: "127.0.41.251", site_id: siteId }))
        .body.data.id;
      const moveTo = async (deviceId: number) =>
        assertEquals(
          (await api("PUT", `/monitors/${localMonitor.body.data.id}`, { device_id: deviceId }))
            .status,
          200,
        );
      await moveTo(siteADevice);
      const moved = await ingest(batch([sample(localMonitor.body.data.id, Date.now() - 4_000)]));
      assertEquals(moved.status, 200, JSON.stringify(moved.body));
      await moveTo(localDevice.body.data.id);
      const movedBack = await ingest(
        batch([sample(localMonitor.body.data.id, Date.now() - 3_000)]),
      );
      assertEquals([movedBack.status, movedBack.body.error.code], [403, "MONITOR_NOT_OF_SITE"]);
      assertEquals((await sql`SELECT count(*)::int AS n FROM metrics`)[0].n, before + 3);

      // --- an outcome's device is its monitor's, whatever the node wrote: failures a node
      // sends for a monitor of its own, naming a device of another site, count against its
      // own monitor's device (before, they made the other site's device unreachable)
      const probeDevice = (await api("POST", "/devices", { ip: "127.0.41.252", site_id: siteId }))
        .body.data.id;
      const probeMonitor = (await api("POST", "/monitors", {
        device_id: probeDevice,
        credential_profile_id: cred.body.data.id,
        plugin_id: 1,
        polling_interval: 60,
        enabled: false,
      })).body.data.id;
      const forged = Array.from({ length: 6 }, (_, i) => ({
        monitorId: probeMonitor,
        deviceId: localDevice.body.data.id,
        ok: false,
        attempts: 1,
        attemptedAt: Date.now() - 6_000 + i * 100,
        dueAt: Date.now() - 6_000 + i * 100,
        durationMs: 5,
        error: "forged",
      }));
      // and one of a monitor that does not exist is dropped (its device could be anyone's)
      forged.push({ ...forged[0], monitorId: 2_000_000_000, attemptedAt: Date.now() - 1_000 });
      const sent = await ingest({
        batches: [{ v: 1, batchId: crypto.randomUUID(), samples: [], outcomes: forged }],
      });
      assertEquals(sent.status, 200, JSON.stringify(sent.body));
      const statusOf = async (id: number) => (await api("GET", `/devices/${id}`)).body.data.status;
      await eventually(
        "the failures count against the monitor's own device",
        async () => (await statusOf(probeDevice)) === "unreachable",
      );
      assert((await statusOf(localDevice.body.data.id)) !== "unreachable", "other site untouched");

      // --- revoke: the node's next request is refused, it polls nothing more
      assertEquals(
        (await api("POST", `/poller-nodes/${identity.node_id}/revoke`)).status,
        200,
      );
      const revoked = await ingest(good);
      assertEquals([revoked.status, revoked.body.error.code], [401, "NODE_UNKNOWN"]);
      for (const id of monitorIds) await api("PUT", `/monitors/${id}`, { enabled: true });
      await eventually(
        "the node knows it is revoked",
        async () => (await node.metrics()).nmslite_node_revoked === 1,
      );
      assertEquals((await node.metrics()).nmslite_node_monitors, 0);
      // with no node left, a test for the site cannot run (and never runs from the central)
      const noNode = await api("POST", `/credential-profiles/${cred.body.data.id}/test`, {
        ip: sim.hosts[1].ip,
      });
      assertEquals([noNode.status, noNode.body.error.code], [503, "NO_POLLER_NODE"]);
    } catch (err) {
      for (const f of ["a-1.log", "central.log", "central-2.log"]) {
        console.error(
          `--- ${f}\n${(await Deno.readTextFile(`${dir}/${f}`).catch(() => "")).slice(-4000)}`,
        );
      }
      throw err;
    } finally {
      for (const n of nodes) await n.stop();
      await central.stop();
      client.close();
      await sim.close();
      await sql.end();
      await scratch.drop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
