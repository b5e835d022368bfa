/**
 * PATCH /monitors: many monitors enabled or disabled in one request, against the running
 * pipeline. What changed, what already was so and what does not exist are reported by id; the
 * scheduler drops and takes back exactly the monitors changed; each change has its audit entry;
 * bad input is refused whole (nothing changes); a viewer is refused.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

/** Waits until the scheduler (its stats arrive every 5 s) holds `n` monitors. */
async function scheduled(s: TestServer, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let held: number | undefined;
  while (Date.now() < deadline) {
    held = s.ctx.monitoring!.pipeline.stats().scheduler?.monitors;
    if (held === n) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the scheduler holds ${held} monitors, not ${n}`);
}

for (const backend of backends()) {
  Deno.test({
    name: `monitors enabled and disabled in bulk (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const s = await startTestServer(backend, {}, { pipeline: true });
      try {
        const token = await s.login();
        const call = (method: string, path: string, body?: unknown) =>
          s.call(method, path, { token, body });
        const cred = await call("POST", "/credential-profiles", {
          name: "bulk",
          type: "winrm_ntlm",
          username: "Administrator",
          password: "Bulk-Passw0rd!",
        });
        const plugin = (await call("GET", "/plugins")).body.data
          .find((p: { name: string }) => p.name === "windows-winrm").id;
        const ids: number[] = [];
        for (let i = 1; i <= 4; i++) {
          // nothing listens there, and a day's interval keeps the schedule from polling it
          const device = await call("POST", "/devices", { ip: `127.0.51.${i}` });
          const monitor = await call("POST", "/monitors", {
            device_id: device.body.data.id,
            credential_profile_id: cred.body.data.id,
            plugin_id: plugin,
            polling_interval: 86_400,
          });
          assertEquals(monitor.status, 201);
          ids.push(monitor.body.data.id);
        }
        await scheduled(s, 4);
        const enabledOf = async () =>
          (await call("GET", "/monitors?sort=id")).body.data.map((m: { enabled: boolean }) =>
            m.enabled
          );

        // bad input is refused whole: nothing changes
        const bad: [unknown, string][] = [
          [{ ids: [], enabled: false }, "ids"],
          [{ ids: new Array(10_001).fill(ids[0]), enabled: false }, "ids"],
          [{ ids: [ids[0], "2"], enabled: false }, "ids"],
          [{ ids: [ids[0], 0], enabled: false }, "ids"],
          [{ ids: [ids[0], 2 ** 31], enabled: false }, "ids"],
          [{ ids: [ids[0]] }, "enabled"],
          [{ ids: [ids[0]], enabled: "no" }, "enabled"],
          [{ ids: [ids[0]], enabled: false, polling_interval: 10 }, "polling_interval"],
        ];
        for (const [body, field] of bad) {
          const res = await call("PATCH", "/monitors", body);
          assertEquals(res.status, 400, JSON.stringify(body).slice(0, 80));
          assertEquals(res.body.error.code, "VALIDATION_ERROR");
          assert(JSON.stringify(res.body.error).includes(field), JSON.stringify(res.body.error));
        }
        assertEquals(await enabledOf(), [true, true, true, true]);

        // a viewer may look but not change
        const user = await call("POST", "/users", {
          username: "vic",
          password: "viewer-pass-9",
          role: "viewer",
        });
        assertEquals(user.status, 201);
        const viewer = await s.login("vic", "viewer-pass-9");
        const refused = await s.call("PATCH", "/monitors", {
          token: viewer,
          body: { ids, enabled: false },
        });
        assertEquals(refused.status, 403);
        assertEquals(await enabledOf(), [true, true, true, true]);

        // two of four disabled; a repeated id counts once; a missing one is reported
        const off = await call("PATCH", "/monitors", {
          ids: [ids[2], ids[0], 999_999, ids[0]],
          enabled: false,
        });
        assertEquals(off.status, 200);
        assertEquals(off.body.data, {
          enabled: false,
          changed: [ids[0], ids[2]],
          unchanged: [],
          not_found: [999_999],
        });
        assertEquals(await enabledOf(), [false, true, false, true]);
        await scheduled(s, 2);

        // again: nothing changes, and no audit entry or event says it did
        const again = await call("PATCH", "/monitors", { ids: [ids[0], ids[2]], enabled: false });
        assertEquals(again.body.data.changed, []);
        assertEquals(again.body.data.unchanged, [ids[0], ids[2]]);

        const audit = await call("GET", "/audit-log?entity=monitor&limit=100");
        const bulk = audit.body.data.filter((e: { details: { bulk?: boolean } | null }) =>
          e.details?.bulk
        );
        assertEquals(
          bulk.map((e: { entity_id: string }) => Number(e.entity_id)).sort(),
          [ids[0], ids[2]].sort(),
        );
        for (const e of bulk) {
          assertEquals([e.action, e.username, e.details.enabled], ["update", "admin", false]);
        }

        // all four on: two change, two already were
        const on = await call("PATCH", "/monitors", { ids, enabled: true });
        assertEquals(on.body.data.changed, [ids[0], ids[2]]);
        assertEquals(on.body.data.unchanged, [ids[1], ids[3]]);
        assertEquals(await enabledOf(), [true, true, true, true]);
        await scheduled(s, 4);
      } finally {
        await s.close();
      }
    },
  });
}
