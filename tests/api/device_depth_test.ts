/** The device endpoints of the extended and full profiles: filters, rights, config checks. */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer } from "../helpers/server.ts";
import { depthSample } from "../helpers/depth_sample.ts";
import { MetricsWriter } from "../../lib/metrics/writer.ts";

for (const backend of backends()) {
  Deno.test({
    name: `device services, processes, events API (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const s = await startTestServer(backend);
      const token = await s.login();
      const call = (method: string, path: string, body?: unknown) =>
        s.call(method, path, { token, body });
      try {
        const cred = await call("POST", "/credential-profiles", {
          name: "c",
          type: "winrm_ntlm",
          username: "u",
          password: "depth-test-pass",
        });
        const pluginId = (await call("GET", "/plugins")).body.data[0].id;
        const deviceId = (await call("POST", "/devices", { ip: "192.0.2.40" })).body.data.id;
        const body = {
          device_id: deviceId,
          credential_profile_id: cred.body.data.id,
          plugin_id: pluginId,
          polling_interval: 60,
          enabled: false,
        };
        // The profile is validated, and a bad one is a 400 naming the field
        for (
          const [config, field] of [
            [{ profile: "everything" }, "config.profile"],
            [{ top_processes: 0 }, "config.top_processes"],
            [{ max_events: 10_000 }, "config.max_events"],
          ] as const
        ) {
          const res = await call("POST", "/monitors", { ...body, config });
          assertEquals(res.status, 400, JSON.stringify(res.body));
          assertEquals(res.body.error.details.field, field);
        }
        const res = await call("POST", "/monitors", { ...body, config: { profile: "extended" } });
        assertEquals(res.status, 201, JSON.stringify(res.body));
        assertEquals(res.body.data.config, { profile: "extended" });
        const monitorId = res.body.data.id;

        // Nothing collected yet: empty lists, not errors
        const empty = await call("GET", `/devices/${deviceId}/services`);
        assertEquals([empty.status, empty.body.data.services, empty.body.data.collected_at], [
          200,
          [],
          null,
        ]);

        const ts = Date.now() - 60_000;
        await new MetricsWriter(s.ctx.db).write({
          v: 1,
          batchId: crypto.randomUUID(),
          samples: [depthSample(monitorId, ts)],
          outcomes: [],
        });

        const stopped = await call("GET", `/devices/${deviceId}/services?state=stopped`);
        assertEquals(stopped.body.data.services.map((x: { name: string }) => x.name), [
          "Spooler",
          "Fax",
        ]);
        const autoStopped = await call(
          "GET",
          `/devices/${deviceId}/services?state=Stopped&start_mode=Auto`,
        );
        assertEquals(autoStopped.body.data.services.length, 1);

        const procs = await call("GET", `/devices/${deviceId}/processes?sort=cpu`);
        assertEquals(procs.body.data.processes[0].name, "sqlservr");
        assertEquals(procs.body.data.processes[0].cpu_percent, 35.5);

        const events = await call("GET", `/devices/${deviceId}/events?log=System`);
        assertEquals(events.body.meta.total, 1);
        assertEquals(events.body.data[0].event_id, 7034);
        const byId = await call("GET", `/devices/${deviceId}/events?event_id=1000`);
        assertEquals(byId.body.data.map((e: { source: string }) => e.source), [
          "Application Error",
        ]);
        const later = new Date(ts).toISOString();
        const none = await call("GET", `/devices/${deviceId}/events?from=${later}`);
        assertEquals(none.body.meta.total, 0);
        const badLevel = await call("GET", `/devices/${deviceId}/events?level=warning`);
        assertEquals(badLevel.status, 400);

        const missing = await call("GET", "/devices/999999/services");
        assertEquals(missing.status, 404);

        // A viewer reads them too
        await call("POST", "/users", { username: "v", password: "viewer-pass-1", role: "viewer" });
        const viewer = await s.login("v", "viewer-pass-1");
        const asViewer = await s.call("GET", `/devices/${deviceId}/processes`, { token: viewer });
        assertEquals(asViewer.status, 200);
        assert(asViewer.body.data.processes.length === 2);
      } finally {
        await s.close();
      }
    },
  });
}
