/**
 * POST /devices/{id}/poll against the running pipeline and a simulated Windows host: the
 * device's enabled monitor is polled at once (its interval is a day, so the schedule would not
 * poll it during the test), the result reaches the monitor and the metrics, a second click
 * within 5 s is skipped, a click while the poll still runs says so (busy) and starts nothing,
 * the device added by IP gets its host name and OS, a viewer is refused.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { startTestServer } from "../helpers/server.ts";
import { startWinsim } from "../../winsim/mod.ts";

const PASSWORD = "Poll-N0w-Passw0rd";

Deno.test({
  name: "poll now: a device's monitors polled outside their schedule",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sim = await startWinsim({
      hosts: 1,
      base: "127.0.48.1",
      username: "Administrator",
      password: PASSWORD,
      httpPort: 0,
      httpsPort: null,
    });
    const s = await startTestServer("pglite", {
      NMSLITE_POLL_RETRIES: "0",
      NMSLITE_POLL_TIMEOUT: "15s", // the hung poll below ends within the test
    }, { pipeline: true });
    try {
      const token = await s.login();
      const call = (method: string, path: string, body?: unknown) =>
        s.call(method, path, { token, body });
      const host = sim.hosts[0];
      const cred = await call("POST", "/credential-profiles", {
        name: "sim",
        type: "winrm_ntlm",
        username: "Administrator",
        password: PASSWORD,
        port: host.httpPort,
      });
      const device = await call("POST", "/devices", { ip: host.ip });
      const plugin = (await call("GET", "/plugins")).body.data
        .find((p: { name: string }) => p.name === "windows-winrm").id;
      const monitor = await call("POST", "/monitors", {
        device_id: device.body.data.id,
        credential_profile_id: cred.body.data.id,
        plugin_id: plugin,
        polling_interval: 86_400,
      });
      const id = device.body.data.id;
      const monitorId = monitor.body.data.id;

      const first = await call("POST", `/devices/${id}/poll`);
      assertEquals(first.status, 202);
      assertEquals(first.body.data, { device_id: id, polled: [monitorId], skipped: [], busy: [] });
      const again = await call("POST", `/devices/${id}/poll`);
      assertEquals(again.body.data, {
        device_id: id,
        polled: [],
        skipped: [monitorId],
        busy: [],
      });

      const deadline = Date.now() + 60_000;
      let m = monitor.body.data;
      while (!m.last_polled && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        m = (await call("GET", `/monitors/${monitorId}`)).body.data;
      }
      assert(
        m.last_polled,
        `polled now: ${JSON.stringify(m)} ${JSON.stringify(s.ctx.monitoring!.pipeline.stats())}`,
      );
      assertEquals([m.last_error, m.consecutive_failures], [null, 0]);
      const latest = await call("GET", `/monitors/${monitorId}/metrics`);
      assertEquals(latest.status, 200);
      assert(typeof latest.body.data.sample?.cpu_percent === "number");
      // the device's last seen is that poll
      const seen = (await call("GET", `/devices/${id}`)).body.data.last_seen;
      assertEquals(Date.parse(seen), Date.parse(m.last_polled));
      // added by IP, it is named by that first good poll, as discovery would have named it
      assertEquals(device.body.data.hostname, null);
      let named = (await call("GET", `/devices/${id}`)).body.data;
      while (!named.hostname && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        named = (await call("GET", `/devices/${id}`)).body.data;
      }
      assertEquals(named.hostname, host.name);
      assertEquals(
        named.os,
        String(sim.instances(host.ip, "Win32_OperatingSystem")[0].Caption).trim(),
      );

      // The host stops answering: a click starts a poll that hangs; once the 5 s gap for
      // clicks has passed, the next click finds that poll still running and starts nothing.
      sim.setFault(host.ip, { kind: "hang" });
      const clickUntil = async (not: "skipped") => {
        for (;;) {
          const r = await call("POST", `/devices/${id}/poll`);
          assertEquals(r.status, 202);
          if (r.body.data[not].length === 0) return r.body.data;
          await new Promise((res) => setTimeout(res, 250));
        }
      };
      assertEquals(await clickUntil("skipped"), {
        device_id: id,
        polled: [monitorId],
        skipped: [],
        busy: [],
      });
      const dispatched = s.ctx.monitoring!.pipeline.stats().dispatched;
      assertEquals(await clickUntil("skipped"), {
        device_id: id,
        polled: [],
        skipped: [],
        busy: [monitorId],
      });
      assertEquals(s.ctx.monitoring!.pipeline.stats().dispatched, dispatched);
      sim.setFault(host.ip, null);

      const viewer = await call("POST", "/users", {
        username: "watcher",
        password: "watcher-password-1",
        role: "viewer",
      });
      assertEquals(viewer.status, 201);
      const viewerToken = await s.login("watcher", "watcher-password-1");
      const refused = await s.call("POST", `/devices/${id}/poll`, { token: viewerToken });
      assertEquals(refused.status, 403);

      await call("PUT", `/monitors/${monitorId}`, { enabled: false });
      const none = await call("POST", `/devices/${id}/poll`);
      assertEquals([none.status, none.body.error.code], [409, "NOTHING_TO_POLL"]);
    } finally {
      await s.close();
      await sim.close();
    }
  },
});
