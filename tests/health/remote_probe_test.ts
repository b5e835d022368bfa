/**
 * Recovery probes in the all-in-one server: an unreachable device of the local site is probed
 * from here and comes back when its port answers; one of another site is probed by a node of
 * that site, never from here (the server may not reach that network at all, or reach another
 * host at the same address), so with no node of its site live it stays unreachable even though
 * its address answers this server.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { startTestServer } from "../helpers/server.ts";

Deno.test({
  name: "health: another site's unreachable device is not probed from the all-in-one server",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // both addresses answer on the same port, as a WinRM listener would
    const local = Deno.listen({ hostname: "127.0.47.1", port: 0 });
    const port = local.addr.port;
    const remote = Deno.listen({ hostname: "127.0.47.2", port });
    const accept = async (l: Deno.Listener) => {
      for await (const conn of l) conn.close();
    };
    const accepting = [accept(local), accept(remote)];
    const server = await startTestServer("pglite", {
      NMSLITE_HEALTH_REACTIVATE_AFTER: "0s",
      NMSLITE_HEALTH_PROBE_INTERVAL: "100ms",
    }, { pipeline: true });
    try {
      const db = server.ctx.db;
      const token = await server.login();
      const site = await server.call("POST", "/sites", { token, body: { name: "branch" } });
      assertEquals(site.status, 201, JSON.stringify(site.body));
      const cred = await server.call("POST", "/credential-profiles", {
        token,
        body: {
          name: "probe-port",
          type: "winrm_ntlm",
          username: "u",
          password: "probe-Passw0rd",
          port,
        },
      });
      assertEquals(cred.status, 201, JSON.stringify(cred.body));
      const device = async (ip: string, siteId: number) => {
        const [d] = await db.query<{ id: number }>(
          `INSERT INTO devices (ip, site_id, status, status_reason, status_changed_at)
           VALUES ($1, $2, 'unreachable', 'test: marked unreachable', now() - interval '1 hour')
           RETURNING id`,
          [ip, siteId],
        );
        await db.query(
          `INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval)
           SELECT $1, $2, p.id, 60 FROM plugins p WHERE p.name = 'windows-winrm'`,
          [d.id, cred.body.data.id],
        );
        return d.id;
      };
      const here = await device("127.0.47.1", 1);
      const away = await device("127.0.47.2", site.body.data.id);
      // the health monitor picks up devices left unreachable when it starts
      await server.restart();
      const status = async (id: number) =>
        (await server.ctx.db.query<{ status: string; status_reason: string }>(
          "SELECT status, status_reason FROM devices WHERE id = $1",
          [id],
        ))[0];
      const deadline = Date.now() + 20_000;
      while ((await status(here)).status !== "monitoring") {
        assert(Date.now() < deadline, "the local device did not recover");
        await new Promise((r) => setTimeout(r, 100));
      }
      assert((await status(here)).status_reason.startsWith("recovered"));
      // several more probe rounds: the other site's device is still not probed from here
      const probes = server.ctx.monitoring!.health.counters.probes;
      while (
        server.ctx.monitoring!.health.counters.probes < probes + 3 &&
        (await status(away)).status === "unreachable"
      ) {
        assert(Date.now() < deadline, "no further probe rounds");
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals(await status(away), {
        status: "unreachable",
        status_reason: "test: marked unreachable",
      });
    } finally {
      await server.close();
      local.close();
      remote.close();
      await Promise.allSettled(accepting);
    }
  },
});
