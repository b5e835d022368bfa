/**
 * Device status moves only through the named transitions of lib/inventory/device_lifecycle.ts,
 * and each one leaves its reason on the device and a record in the audit log.
 */
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer } from "../helpers/server.ts";

for (const backend of backends()) {
  Deno.test({
    name: `device lifecycle: reasons and audit records (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const s = await startTestServer(backend);
      try {
        const token = await s.login();
        const call = (method: string, path: string, body?: unknown) =>
          s.call(method, path, { token, body });
        const device = (await call("POST", "/devices", { ip: "127.0.61.1" })).body.data;
        assertEquals(device.status, "discovered");
        assertEquals(device.status_reason, "added by admin");
        const cred = (await call("POST", "/credential-profiles", {
          name: "lifecycle",
          type: "winrm_basic",
          username: "u",
          password: "p",
          allow_unencrypted: true,
        })).body.data;
        const plugins = (await call("GET", "/plugins")).body.data;
        const plugin = plugins.find((p: { type: string }) => p.type === "builtin");
        const monitor = (await call("POST", "/monitors", {
          device_id: device.id,
          credential_profile_id: cred.id,
          plugin_id: plugin.id,
          polling_interval: 60,
        })).body.data;
        const watched = (await call("GET", `/devices/${device.id}`)).body.data;
        assertEquals(watched.status, "monitoring");
        assertEquals(watched.status_reason, `monitor ${monitor.id} added`);

        assertEquals((await call("DELETE", `/monitors/${monitor.id}`)).status, 204);
        const released = (await call("GET", `/devices/${device.id}`)).body.data;
        assertEquals(released.status, "discovered");
        assertMatch(released.status_reason, /none left/);

        const paused = await call("PUT", `/devices/${device.id}`, { status: "inactive" });
        assertEquals(paused.body.data.status, "inactive");
        assertEquals(paused.body.data.status_reason, "set by admin");

        const audit = (await call("GET", "/audit-log?entity=device&limit=50&order=asc")).body.data
          .filter((e: { entity_id: string }) => e.entity_id === String(device.id))
          .map((e: { action: string; details: { status?: string } }) =>
            `${e.action}${e.details?.status ? `:${e.details.status}` : ""}`
          );
        assertEquals(audit, [
          "create",
          "status:monitoring",
          "status:discovered",
          "status:inactive",
          "update",
        ]);
      } finally {
        await s.close();
      }
    },
  });
}
