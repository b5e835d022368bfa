import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer } from "../helpers/server.ts";

const PASSWORD = "Sup3r-Secret-Winrm!";

for (const backend of backends()) {
  Deno.test({
    name: `inventory resources (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const s = await startTestServer(backend);
      const token = await s.login();
      const call = (method: string, path: string, body?: unknown) =>
        s.call(method, path, { token, body });
      try {
        let credId = 0;
        await t.step("credential profile: password sealed at rest, never returned", async () => {
          const res = await call("POST", "/credential-profiles", {
            name: "Windows admins",
            type: "winrm_ntlm",
            username: "Administrator",
            password: PASSWORD,
            domain: "CORP",
          });
          assertEquals(res.status, 201);
          credId = res.body.data.id;
          assertEquals(res.body.data.port, 5985);
          assert(!JSON.stringify(res.body).includes(PASSWORD));
          assert(!("password" in res.body.data) && !("password_enc" in res.body.data));
          const [row] = await s.ctx.db.query<{ password_enc: string }>(
            "SELECT password_enc FROM credential_profiles WHERE id = $1",
            [credId],
          );
          assertMatch(row.password_enc, /^v1:[0-9a-f]{8}:[A-Za-z0-9+/=]+$/);
          assert(!row.password_enc.includes(PASSWORD));
          assertEquals(await s.ctx.keyring.decrypt(row.password_enc), PASSWORD);
          const got = await call("GET", `/credential-profiles/${credId}`);
          assert(!JSON.stringify(got.body).includes(PASSWORD));
          const list = await call("GET", "/credential-profiles");
          assertEquals(list.body.meta.total, 1);
          assert(!JSON.stringify(list.body).includes(PASSWORD));
        });

        await t.step("credential profile: ssl default port, update keeps password", async () => {
          // how or where the password is sent changes only with the password given again:
          // else an editor who does not know it could send it in clear to a port of theirs
          for (
            const change of [
              { use_ssl: true },
              { type: "winrm_basic", allow_unencrypted: true },
              { port: 18999, name: "renamed" },
              { tls_verify: "insecure" },
            ]
          ) {
            const refused = await call("PUT", `/credential-profiles/${credId}`, change);
            assertEquals(refused.status, 400, JSON.stringify(change));
            assertEquals(refused.body.error.details.field, "password");
            assertMatch(refused.body.error.message, new RegExp(Object.keys(change)[0]));
          }
          const current = (await call("GET", `/credential-profiles/${credId}`)).body.data;
          assertEquals(current.name, "Windows admins", "a refused change changes nothing");
          // the values it has already, and fields that do not move the password, need nothing
          const same = await call("PUT", `/credential-profiles/${credId}`, {
            use_ssl: current.use_ssl,
            port: current.port,
            domain: "LAB",
          });
          assertEquals(same.status, 200, JSON.stringify(same.body));
          const res = await call("PUT", `/credential-profiles/${credId}`, {
            use_ssl: true,
            password: PASSWORD,
          });
          assertEquals(res.status, 200, JSON.stringify(res.body));
          assertEquals(res.body.data.port, 5986);
          const [row] = await s.ctx.db.query<{ password_enc: string }>(
            "SELECT password_enc FROM credential_profiles WHERE id = $1",
            [credId],
          );
          assertEquals(await s.ctx.keyring.decrypt(row.password_enc), PASSWORD);
        });

        await t.step("credential profile: validation errors name the field", async () => {
          const cases: [unknown, string][] = [
            [{ name: "x", type: "ssh", username: "u", password: "p" }, "type"],
            [{ name: "x", type: "winrm_ntlm", username: "u", password: "p", port: 70000 }, "port"],
            [{ name: "x", type: "winrm_ntlm", username: "u" }, "password"],
            [{ name: "x", type: "winrm_basic", username: "u", password: "p" }, "use_ssl"],
            [{
              name: "x",
              type: "winrm_ntlm",
              username: "u",
              password: "p",
              use_ssl: true,
              tls_verify: "pinned",
            }, "tls_ca_pem"],
            [{ name: "x", type: "winrm_ntlm", username: "u", password: "p", extra: 1 }, "(body)"],
          ];
          for (const [body, field] of cases) {
            const res = await call("POST", "/credential-profiles", body);
            assertEquals(res.status, 400, JSON.stringify(body));
            assertEquals(res.body.error.code, "VALIDATION_ERROR");
            assertEquals(res.body.error.details.field, field, JSON.stringify(res.body));
            assert(!JSON.stringify(res.body).includes('"p"'));
          }
          const dup = await call("POST", "/credential-profiles", {
            name: "Windows admins",
            type: "winrm_ntlm",
            username: "u",
            password: "p",
          });
          assertEquals(dup.status, 409);
        });

        let discoveryId = 0;
        await t.step("discovery profiles: targets validated and counted", async () => {
          const bad: [string, RegExp][] = [
            ["10.0.0.300", /not a valid IPv4/],
            ["10.0.0.0/33", /prefix length/],
            ["10.0.0.9-10.0.0.1", /ends before it starts/],
            ["10.0.0.0/8", /at most 65536/],
            ["10.0.0.0/16, 10.1.0.1", /at most 65536/],
          ];
          for (const [target, message] of bad) {
            const res = await call("POST", "/discovery-profiles", {
              name: "bad",
              credential_profile_id: credId,
              target,
            });
            assertEquals(res.status, 400, target);
            assertEquals(res.body.error.details.field, "target");
            assertMatch(res.body.error.message, message);
          }
          const missingCred = await call("POST", "/discovery-profiles", {
            name: "lan",
            credential_profile_id: 9999,
            target: "10.0.0.0/24",
          });
          assertEquals(missingCred.status, 404);
          assertMatch(missingCred.body.error.message, /credential profile 9999/);
          const ok = await call("POST", "/discovery-profiles", {
            name: "lan",
            credential_profile_id: credId,
            target: "10.0.0.0/24, 10.0.1.1-10.0.1.10, 10.0.0.5",
          });
          assertEquals(ok.status, 201);
          assertEquals(ok.body.data.address_count, 266);
          assertEquals(ok.body.data.ports, [5985, 5986, 135]);
          discoveryId = ok.body.data.id;
          const upd = await call("PUT", `/discovery-profiles/${discoveryId}`, {
            target: "10.0.0.0/16",
          });
          assertEquals(upd.status, 200);
          assertEquals(upd.body.data.address_count, 65_536);
        });

        const deviceIds: number[] = [];
        await t.step("devices: add by IP, unique, filter, sort, paginate", async () => {
          for (
            const [ip, hostname] of [["10.0.0.3", "web-b"], ["10.0.0.1", "db-a"], [
              "10.0.0.2",
              "web-a",
            ]]
          ) {
            const res = await call("POST", "/devices", { ip, hostname });
            assertEquals(res.status, 201);
            assertEquals(res.body.data.status, "discovered");
            deviceIds.push(res.body.data.id);
          }
          const dup = await call("POST", "/devices", { ip: "10.0.0.1" });
          assertEquals(dup.status, 409);
          assertMatch(dup.body.error.message, /ip/);
          assertEquals((await call("POST", "/devices", { ip: "10.0.0.256" })).status, 400);
          const byIp = await call("GET", "/devices?sort=ip&order=desc");
          assertEquals(byIp.body.data.map((d: { ip: string }) => d.ip), [
            "10.0.0.3",
            "10.0.0.2",
            "10.0.0.1",
          ]);
          const search = await call("GET", "/devices?q=web&sort=hostname");
          assertEquals(search.body.data.map((d: { hostname: string }) => d.hostname), [
            "web-a",
            "web-b",
          ]);
          // LIKE wildcards in q are literal text: no host name or address holds % or _.
          for (const q of ["%", "_", "web%"]) {
            const literal = await call("GET", `/devices?q=${encodeURIComponent(q)}`);
            assertEquals(literal.body.meta.total, 0, q);
            for (const path of ["/credential-profiles", "/discovery-profiles"]) {
              assertEquals(
                (await call("GET", `${path}?q=${encodeURIComponent(q)}`)).body.meta.total,
                0,
                `${path} ${q}`,
              );
            }
          }
          const page = await call("GET", "/devices?limit=2&offset=2&sort=ip");
          assertEquals(page.body.meta, { total: 3, limit: 2, offset: 2 });
          assertEquals(page.body.data.length, 1);
          const beyond = await call("GET", "/devices?limit=2&offset=10");
          assertEquals(beyond.body.meta.total, 3);
          assertEquals((await call("GET", "/devices?limit=0")).status, 400);
          assertEquals((await call("GET", "/devices?status=gone")).status, 400);
          const upd = await call("PUT", `/devices/${deviceIds[0]}`, { hostname: "web-b2" });
          assertEquals(upd.body.data.hostname, "web-b2");
          assertEquals((await call("GET", "/devices/424242")).status, 404);
          assertEquals((await call("GET", "/devices/abc")).status, 400);
        });

        let winrmPlugin = 0;
        let execPlugin = 0;
        await t.step("plugins: built-in present and protected, exec CRUD", async () => {
          const list = await call("GET", "/plugins");
          const builtin = list.body.data.find((p: { name: string }) => p.name === "windows-winrm");
          assert(builtin, "windows-winrm plugin exists");
          assertEquals(builtin.type, "builtin");
          winrmPlugin = builtin.id;
          const del = await call("DELETE", `/plugins/${winrmPlugin}`);
          assertEquals(del.status, 400);
          assertEquals(del.body.error.code, "BUILTIN_PLUGIN");
          const created = await call("POST", "/plugins", {
            name: "echo-metrics",
            description: "test",
            config: { command: "echo", args: ["{}"] },
          });
          assertEquals(created.status, 201);
          assertEquals(created.body.data.type, "exec");
          assertEquals(created.body.data.config.timeout_ms, 30_000);
          execPlugin = created.body.data.id;
          const noCommand = await call("POST", "/plugins", { name: "x", config: {} });
          assertEquals(noCommand.status, 400);
          assertEquals(noCommand.body.error.details.field, "config.command");
        });

        let monitorId = 0;
        await t.step("monitors: 404 names what is missing; interval checked", async () => {
          const missing = await call("POST", "/monitors", {
            device_id: 5555,
            credential_profile_id: credId,
            plugin_id: 7777,
            polling_interval: 60,
          });
          assertEquals(missing.status, 404);
          assertMatch(missing.body.error.message, /device 5555/);
          assertMatch(missing.body.error.message, /plugin 7777/);
          assert(!missing.body.error.message.includes("credential"));
          const fast = await call("POST", "/monitors", {
            device_id: deviceIds[0],
            credential_profile_id: credId,
            plugin_id: winrmPlugin,
            polling_interval: 5,
          });
          assertEquals(fast.status, 400);
          assertEquals(fast.body.error.details.field, "polling_interval");
          const ok = await call("POST", "/monitors", {
            device_id: deviceIds[0],
            credential_profile_id: credId,
            plugin_id: winrmPlugin,
            polling_interval: 60,
          });
          assertEquals(ok.status, 201);
          assertEquals(ok.body.data.enabled, true);
          assertEquals(ok.body.data.last_polled, null);
          monitorId = ok.body.data.id;
          const second = await call("POST", "/monitors", {
            device_id: deviceIds[0],
            credential_profile_id: credId,
            plugin_id: execPlugin,
            polling_interval: 30,
          });
          assertEquals(second.status, 201);
          const device = await call("GET", `/devices/${deviceIds[0]}`);
          assertEquals(device.body.data.status, "monitoring");
          const upd = await call("PUT", `/monitors/${monitorId}`, {
            polling_interval: 120,
            enabled: false,
          });
          assertEquals(upd.body.data.polling_interval, 120);
          assertEquals(upd.body.data.enabled, false);
          const filtered = await call("GET", `/monitors?device_id=${deviceIds[0]}&enabled=false`);
          assertEquals(filtered.body.meta.total, 1);
        });

        await t.step("monitors: q finds device, plugin and credential names", async () => {
          const plugins = async (q: string) =>
            (await call("GET", `/monitors?q=${encodeURIComponent(q)}&sort=id`)).body.data
              .map((m: { plugin_id: number }) => m.plugin_id);
          const both = [winrmPlugin, execPlugin];
          assertEquals(await plugins("echo-"), [execPlugin], "plugin name");
          assertEquals(await plugins("WinRM"), [winrmPlugin], "plugin name, any case");
          assertEquals(await plugins("windows ADMINS"), both, "credential profile name");
          assertEquals(await plugins("WEB-B"), both, "device host name");
          assertEquals(await plugins("10.0.0.3"), both, "device IP");
          assertEquals(await plugins("10.0.0.1"), [], "another device's IP");
          assertEquals(await plugins("%"), [], "% is a character, not a wildcard");
          assertEquals(await plugins("_"), [], "_ is a character, not a wildcard");
          assertEquals(await plugins("echo\\"), [], "so is \\");
          const disabled = await call("GET", `/monitors?q=web-b&enabled=false`);
          assertEquals(disabled.body.data.map((m: { id: number }) => m.id), [monitorId]);
          assertEquals((await call("GET", `/monitors?q=${"x".repeat(101)}`)).status, 400);
        });

        await t.step("monitors: timestamps as text, sorted as times", async () => {
          const all = (await call("GET", "/monitors?sort=id")).body.data as { id: number }[];
          assert(all.length >= 2);
          // microseconds in the column, truncated to the millisecond as a Date would be
          await s.ctx.db.query(
            `UPDATE monitors SET last_polled = CASE WHEN id = $1
               THEN timestamptz '2026-01-02 03:04:05.678999+00'
               ELSE timestamptz '2025-12-31 23:59:59.5+00' END`,
            [all[0].id],
          );
          const first = (await call("GET", `/monitors/${all[0].id}`)).body.data;
          assertEquals(first.last_polled, "2026-01-02T03:04:05.678Z");
          const [db] = await s.ctx.db.query<{ created_at: Date; updated_at: Date }>(
            "SELECT created_at, updated_at FROM monitors WHERE id = $1",
            [all[0].id],
          );
          assertEquals(first.created_at, db.created_at.toISOString());
          assertEquals(first.updated_at, db.updated_at.toISOString());
          for (const sort of ["last_polled", "last_error_at", "created_at"]) {
            for (const order of ["asc", "desc"]) {
              const got = (await call("GET", `/monitors?sort=${sort}&order=${order}`)).body.data
                .map((m: { id: number }) => m.id);
              const [{ ids }] = await s.ctx.db.query<{ ids: number[] }>(
                `SELECT array_agg(id ORDER BY ${sort} ${order}, id ${order}) AS ids FROM monitors`,
              );
              assertEquals(got, ids, `sort=${sort}&order=${order}`);
            }
          }
        });

        await t.step("deletion rules: in-use refused with counts, monitor always", async () => {
          const cred = await call("DELETE", `/credential-profiles/${credId}`);
          assertEquals(cred.status, 400);
          assertEquals(cred.body.error.message, "Credential Profile in use by 2 monitor(s)");
          const dev = await call("DELETE", `/devices/${deviceIds[0]}`);
          assertEquals(dev.status, 400);
          assertEquals(dev.body.error.message, "Device in use by 2 monitor(s)");
          const plug = await call("DELETE", `/plugins/${execPlugin}`);
          assertEquals(plug.status, 400);
          assertEquals(plug.body.error.message, "Plugin in use by 1 monitor(s)");
          await s.ctx.db.query(
            `INSERT INTO metrics (monitor_id, ts, cpu_percent) VALUES ($1, now(), 12.5)`,
            [monitorId],
          );
          const monitors = (await call("GET", `/monitors?device_id=${deviceIds[0]}`)).body.data;
          for (const m of monitors) {
            assertEquals((await call("DELETE", `/monitors/${m.id}`)).status, 204);
          }
          const left = await s.ctx.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM metrics WHERE monitor_id = $1",
            [monitorId],
          );
          assertEquals(left[0].n, 0);
          assertEquals(
            (await call("GET", `/devices/${deviceIds[0]}`)).body.data.status,
            "discovered",
          );
          const stillUsed = await call("DELETE", `/credential-profiles/${credId}`);
          assertEquals(
            stillUsed.body.error.message,
            "Credential Profile in use by 1 discovery profile(s)",
          );
          // a discovery profile can always go; its devices stay
          await s.ctx.db.query("UPDATE devices SET discovery_profile_id = $1", [discoveryId]);
          assertEquals((await call("DELETE", `/discovery-profiles/${discoveryId}`)).status, 204);
          assertEquals((await call("GET", "/devices")).body.meta.total, 3);
          assertEquals((await call("DELETE", `/credential-profiles/${credId}`)).status, 204);
          assertEquals((await call("DELETE", `/devices/${deviceIds[0]}`)).status, 204);
          assertEquals((await call("DELETE", `/plugins/${execPlugin}`)).status, 204);
          assertEquals((await call("DELETE", `/monitors/${monitorId}`)).status, 404);
        });

        await t.step(
          "devices sort by address; last seen is the latest successful poll",
          async () => {
            const ids: Record<string, number> = {};
            for (const ip of ["10.0.1.2", "10.0.1.10", "10.0.1.1", "10.0.1.100", "9.255.0.1"]) {
              ids[ip] = (await call("POST", "/devices", { ip })).body.data.id;
            }
            const ips = async (q: string) =>
              (await call("GET", `/devices?${q}`)).body.data.map((d: { ip: string }) => d.ip);
            assertEquals(await ips("q=10.0.1.&sort=ip"), [
              "10.0.1.1",
              "10.0.1.2",
              "10.0.1.10",
              "10.0.1.100",
            ]);
            assertEquals(await ips("q=.&sort=ip&order=desc&limit=3"), [
              "10.0.1.100",
              "10.0.1.10",
              "10.0.1.2",
            ]);
            assertEquals((await ips("sort=ip"))[0], "9.255.0.1");

            // discovered an hour ago, polled successfully a minute ago: seen a minute ago
            const dev = ids["10.0.1.2"];
            await s.ctx.db.query(
              "UPDATE devices SET last_seen = now() - interval '1 hour' WHERE id = $1",
              [dev],
            );
            const plugin = (await call("GET", "/plugins")).body.data[0].id;
            const cred = (await call("POST", "/credential-profiles", {
              name: "seen",
              type: "winrm_ntlm",
              username: "u",
              password: "p-123456",
            })).body.data.id;
            const mon = (await call("POST", "/monitors", {
              device_id: dev,
              credential_profile_id: cred,
              plugin_id: plugin,
              polling_interval: 60,
            })).body.data.id;
            const seen = async () =>
              Date.now() - Date.parse((await call("GET", `/devices/${dev}`)).body.data.last_seen);
            assert(await seen() > 3_500_000, "before any poll, last seen is the discovery");
            await s.ctx.db.query(
              `UPDATE monitors SET last_polled = now() - interval '1 minute',
               last_attempted = now() WHERE id = $1`,
              [mon],
            );
            const ago = await seen();
            assert(ago > 50_000 && ago < 120_000, `last seen a minute ago, got ${ago} ms`);
            const bySeen = await call("GET", "/devices?q=10.0.1.&sort=last_seen&order=desc");
            assertEquals(bySeen.body.data[0].id, dev);

            // a page is cut before last_seen is computed (pagination.ts pageFirst): pages of
            // two, walked to the end, are the whole list in the same order, for every sort
            for (
              const sort of ["id", "ip", "hostname", "status", "os", "last_seen", "created_at"]
            ) {
              for (const order of ["asc", "desc"]) {
                const whole = (await call("GET", `/devices?sort=${sort}&order=${order}`)).body;
                const walked = [];
                for (let offset = 0; offset < whole.meta.total; offset += 2) {
                  const page = await call(
                    "GET",
                    `/devices?sort=${sort}&order=${order}&limit=2&offset=${offset}`,
                  );
                  assertEquals(page.body.meta.total, whole.meta.total);
                  walked.push(...page.body.data);
                }
                assertEquals(walked, whole.data, `sort=${sort}&order=${order}`);
              }
            }
            // timestamps come formatted by PostgreSQL (isoTimestamp) exactly as JSON gives a
            // Date: UTC, milliseconds truncated
            await s.ctx.db.query(
              "UPDATE devices SET status_changed_at = '2026-01-02 03:04:05.678999+00' WHERE id = $1",
              [dev],
            );
            const [db] = await s.ctx.db.query<Record<string, Date | null>>(
              "SELECT created_at, updated_at, status_changed_at FROM devices WHERE id = $1",
              [dev],
            );
            const shown = (await call("GET", `/devices/${dev}`)).body.data;
            for (const k of ["created_at", "updated_at", "status_changed_at"]) {
              assertEquals(shown[k], db[k]!.toISOString(), k);
            }
            assertEquals(shown.status_changed_at, "2026-01-02T03:04:05.678Z");
            assertEquals(shown.last_seen, new Date(Date.parse(shown.last_seen)).toISOString());

            // poll now: 404 unknown, 409 not polled, 503 when polling is off
            assertEquals((await call("POST", "/devices/424242/poll")).status, 404);
            await call("PUT", `/devices/${dev}`, { status: "unreachable" });
            const paused = await call("POST", `/devices/${dev}/poll`);
            assertEquals([paused.status, paused.body.error.code], [409, "DEVICE_NOT_POLLED"]);
            await call("PUT", `/devices/${dev}`, { status: "monitoring" });
            const off = await call("POST", `/devices/${dev}/poll`);
            assertEquals([off.status, off.body.error.code], [503, "UNAVAILABLE"]);
            await call("DELETE", `/monitors/${mon}`);
            await call("DELETE", `/credential-profiles/${cred}`);
            for (const id of Object.values(ids)) await call("DELETE", `/devices/${id}`);
          },
        );

        await t.step("envelope: bad JSON 400, oversized body 413, unknown route 404", async () => {
          const bad = await s.call("POST", "/devices", { token, body: "{not json" });
          assertEquals(bad.status, 400);
          assertEquals(bad.body.success, false);
          const big = await s.call("POST", "/devices", {
            token,
            body: JSON.stringify({ ip: "10.0.0.9", hostname: "x".repeat(2 * 1024 * 1024) }),
          });
          assertEquals(big.status, 413);
          assertEquals(big.body.error.code, "PAYLOAD_TOO_LARGE");
          assertEquals((await call("GET", "/devices?q=10.0.0.9")).body.meta.total, 0);
          const none = await call("GET", "/nothing-here");
          assertEquals(none.status, 404);
          assertEquals(none.body.error.code, "NOT_FOUND");
        });

        await t.step("request id echoed; health, openapi and docs served", async () => {
          const res = await s.call("GET", "/devices", {
            token,
            headers: { "x-request-id": "trace-abc-123" },
          });
          assertEquals(res.headers.get("x-request-id"), "trace-abc-123");
          const health = await fetch(`${s.url}/health`);
          const body = await health.json();
          assertEquals(health.status, 200);
          assertEquals(body.data.database.reachable, true);
          assertEquals(body.data.database.kind, backend);
          const spec = await (await fetch(`${s.api}/openapi.json`)).json();
          for (
            const path of [
              "/auth/login",
              "/credential-profiles/{id}",
              "/discovery-profiles",
              "/devices/{id}",
              "/monitors",
              "/plugins/{id}",
              "/users",
              "/audit-log",
            ]
          ) assert(spec.paths[path], `openapi has ${path}`);
          assert(spec.components.schemas.CredentialProfileCreate.properties.password);
          const poll = spec.paths["/devices/{id}/poll"]?.post;
          assert(poll?.responses?.["202"] && poll.responses["409"] && poll.responses["503"]);
          assert(spec.components.schemas.DevicePoll.properties.skipped);
          const docs = await fetch(`${s.api}/docs`);
          assertEquals(docs.status, 200);
          assertMatch(await docs.text(), /\/api\/v1\/credential-profiles/);
        });

        await t.step("no secret in the audit log", async () => {
          const audit = await call("GET", "/audit-log?limit=500");
          assert(audit.body.data.length > 10);
          assert(!JSON.stringify(audit.body).includes(PASSWORD));
        });
      } finally {
        await s.close();
      }
    },
  });
}
