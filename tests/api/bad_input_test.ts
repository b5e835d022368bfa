/**
 * Bad input is a 4xx naming what is wrong, never a 500: control characters in any string, integers
 * past the column's range, names equal but for case, duplicate monitors, malformed targets, and
 * a database that is down (503, while /metrics keeps answering). Real server, real database.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";
import { takeDatabaseDown } from "../helpers/outage.ts";
import { InvalidCredentialsError, login } from "../../lib/auth/sessions.ts";
import { devicesRepo } from "../../lib/db/devices.ts";

const MAX_FAILURES = 4;

function expect400(
  res: { status: number; body: { error: { code: string; details: { field?: string } } } },
  field: string,
  what: string,
): void {
  assertEquals(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
  assertEquals(res.body.error.code, "VALIDATION_ERROR", what);
  assertEquals(res.body.error.details.field, field, `${what}: ${JSON.stringify(res.body)}`);
}

for (const backend of backends()) {
  Deno.test({
    name: `bad input is a 4xx naming the field (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const s = await startTestServer(backend, {
        NMSLITE_LOGIN_MAX_FAILURES: String(MAX_FAILURES),
      });
      const token = await s.login();
      const call = (method: string, path: string, body?: unknown) =>
        s.call(method, path, { token, body });
      try {
        const cred = await call("POST", "/credential-profiles", {
          name: "Lab",
          type: "winrm_ntlm",
          username: "u",
          password: "p",
        });
        assertEquals(cred.status, 201);
        const credId = cred.body.data.id;

        await t.step(
          "NUL and control characters in JSON strings: 400 naming the field",
          async () => {
            const cases: [string, string, unknown, string][] = [
              ["POST", "/credential-profiles", {
                name: "a\u0000b",
                type: "winrm_ntlm",
                username: "u",
                password: "p",
              }, "name"],
              ["POST", "/credential-profiles", {
                name: "ok",
                type: "winrm_ntlm",
                username: "u",
                password: "p\u0000",
              }, "password"],
              ["POST", "/credential-profiles", {
                name: "tab\tname",
                type: "winrm_ntlm",
                username: "u",
                password: "p",
              }, "name"],
              [
                "POST",
                "/users",
                { username: "bob", password: "pass\u0000word", role: "viewer" },
                "password",
              ],
              ["POST", "/devices", { ip: "10.9.9.9", hostname: "h\u0000st" }, "hostname"],
              ["POST", "/discovery-profiles", {
                name: "d\u001bp",
                credential_profile_id: credId,
                target: "10.0.0.1",
              }, "name"],
              ["POST", "/plugins", {
                name: "nul-arg",
                config: { command: "echo", args: ["ok", "a\u0000b"] },
              }, "config.args.1"],
              ["POST", "/plugins", {
                name: "nul-desc",
                description: "line one\u0000",
                config: { command: "echo" },
              }, "description"],
              ["POST", "/plugins", {
                name: "nul-env",
                config: { command: "echo", env: { A: "x\u0000" } },
              }, "config.env.A"],
            ];
            for (const [method, path, body, field] of cases) {
              expect400(await call(method, path, body), field, `${path} ${JSON.stringify(body)}`);
            }
            // A free-text field keeps its line breaks and tabs.
            const multi = await call("POST", "/plugins", {
              name: "multi-line",
              description: "first line\n\tsecond line",
              config: { command: "echo" },
            });
            assertEquals(multi.status, 201, JSON.stringify(multi.body));
            assertEquals(multi.body.data.description, "first line\n\tsecond line");
          },
        );

        await t.step(
          "lone UTF-16 surrogates and bodies nested past the bound: 400 naming the field",
          async () => {
            const cases: [string, string, unknown, string][] = [
              ["POST", "/sites", { name: "sur\ud800x" }, "name"],
              ["POST", "/maintenance-windows", {
                name: "\ud800",
                kind: "once",
                scope: { kind: "all" },
                starts_at: "2030-01-01T00:00:00Z",
                ends_at: "2030-01-02T00:00:00Z",
              }, "name"],
              ["POST", "/plugins", {
                name: "surrogate-env",
                config: { command: "echo", env: { A: "x\udc00" } },
              }, "config.env.A"],
            ];
            for (const [method, path, body, field] of cases) {
              const res = await call(method, path, body);
              expect400(res, field, `${path} ${JSON.stringify(body)}`);
              assertMatch(res.body.error.message, /lone UTF-16 surrogate/);
            }
            // a pair is a character like any other
            const emoji = await call("POST", "/sites", { name: "Lab \ud83d\ude00" });
            assertEquals(emoji.status, 201, JSON.stringify(emoji.body));
            assertEquals(emoji.body.data.name, "Lab \u{1f600}");
            // 10,000 levels deep: a 400 at once, not a stack overflow (a 500 before)
            let deep: unknown = "x";
            for (let i = 0; i < 10_000; i++) deep = [deep];
            const res = await call("POST", "/notification-channels", {
              name: "deep",
              type: "webhook",
              settings: { url: "http://127.0.0.1:9/x" },
              secrets: { hmacSecret: deep },
            });
            assertEquals(res.status, 400, JSON.stringify(res.body).slice(0, 300));
            assertEquals(res.body.error.code, "VALIDATION_ERROR");
            assertMatch(
              res.body.error.message,
              /^secrets\.hmacSecret\.0\.0.*: nested deeper than 32 levels$/,
            );
          },
        );

        await t.step("NUL in query values: 400 naming the parameter", async () => {
          for (
            const [path, field] of [
              ["/devices?q=a%00b", "q"],
              ["/monitors?q=a%00b", "q"],
              ["/credential-profiles?q=%00", "q"],
              ["/discovery-profiles?q=x%00", "q"],
              ["/audit-log?entity=%00", "entity"],
              ["/audit-log?username=ad%01min", "username"],
            ]
          ) {
            expect400(await call("GET", path), field, path);
          }
        });

        await t.step("integers past the column's range: 400 naming the parameter", async () => {
          for (
            const [path, field] of [
              ["/monitors?device_id=10000000000", "device_id"],
              ["/discovery-runs?discovery_profile_id=1e10", "discovery_profile_id"],
              ["/devices?offset=1e20", "offset"],
              ["/devices/10000000000", "id"],
            ]
          ) {
            expect400(await call("GET", path), field, path);
          }
          expect400(
            await call("POST", "/discovery-profiles", {
              name: "big",
              credential_profile_id: 1e10,
              target: "10.0.0.1",
            }),
            "credential_profile_id",
            "discovery profile body",
          );
          expect400(
            await call("POST", "/monitors", {
              device_id: 2_147_483_648,
              credential_profile_id: credId,
              plugin_id: 1,
              polling_interval: 60,
            }),
            "device_id",
            "monitor body",
          );
        });

        await t.step("a target with trailing parts is refused, not read as a /24", async () => {
          expect400(
            await call("POST", "/discovery-profiles", {
              name: "trailing",
              credential_profile_id: credId,
              target: "127.0.60.1/24/3",
            }),
            "target",
            "127.0.60.1/24/3",
          );
        });

        await t.step("names are unique regardless of case: 409 naming the field", async () => {
          const cases: [string, unknown, unknown, string][] = [
            [
              "/credential-profiles",
              {
                name: "LAB",
                type: "winrm_ntlm",
                username: "u",
                password: "p",
              },
              undefined,
              "name",
            ],
            ["/users", { username: "Alice", password: "alice-password", role: "viewer" }, {
              username: "aLiCe",
              password: "alice-password",
              role: "viewer",
            }, "username"],
            [
              "/discovery-profiles",
              {
                name: "Office",
                credential_profile_id: credId,
                target: "10.0.0.1",
              },
              { name: "OFFICE", credential_profile_id: credId, target: "10.0.0.2" },
              "name",
            ],
          ];
          for (const [path, first, second, field] of cases) {
            if (second !== undefined) assertEquals((await call("POST", path, first)).status, 201);
            const dup = await call("POST", path, second ?? first);
            assertEquals(dup.status, 409, `${path}: ${JSON.stringify(dup.body)}`);
            assertEquals(dup.body.error.code, "CONFLICT");
            assertEquals(dup.body.error.details.field, field);
          }
          // Renaming into another's name differing only by case is refused too.
          const other = await call("POST", "/credential-profiles", {
            name: "Other",
            type: "winrm_ntlm",
            username: "u",
            password: "p",
          });
          const rename = await call("PUT", `/credential-profiles/${other.body.data.id}`, {
            name: "lab",
          });
          assertEquals(rename.status, 409, JSON.stringify(rename.body));
          // Login folds case like the throttle does.
          const alice = await s.call("POST", "/auth/login", {
            body: { username: "ALICE", password: "alice-password" },
          });
          assertEquals(alice.status, 200, JSON.stringify(alice.body));
          assertEquals(alice.body.data.user.username, "Alice");
        });

        await t.step("a duplicate monitor is 409 naming the existing monitor", async () => {
          const device = await call("POST", "/devices", { ip: "10.9.9.10" });
          const plugins = await call("GET", "/plugins");
          const pluginId = plugins.body.data.find((p: { name: string }) =>
            p.name === "windows-winrm"
          ).id;
          const body = {
            device_id: device.body.data.id,
            credential_profile_id: credId,
            plugin_id: pluginId,
            polling_interval: 60,
            enabled: false,
          };
          const first = await call("POST", "/monitors", body);
          assertEquals(first.status, 201);
          const dup = await call("POST", "/monitors", { ...body, polling_interval: 300 });
          assertEquals(dup.status, 409, JSON.stringify(dup.body));
          assertEquals(dup.body.error.details.existing_id, first.body.data.id);
          assertMatch(dup.body.error.message, new RegExp(`monitor ${first.body.data.id}\\b`));
          // A second monitor with another plugin is fine; moving it onto the first is not.
          const exec = await call("POST", "/plugins", {
            name: "other-collector",
            config: { command: "echo" },
          });
          const second = await call("POST", "/monitors", { ...body, plugin_id: exec.body.data.id });
          assertEquals(second.status, 201);
          const move = await call("PUT", `/monitors/${second.body.data.id}`, {
            plugin_id: pluginId,
          });
          assertEquals(move.status, 409, JSON.stringify(move.body));
          assertEquals(move.body.error.details.existing_id, first.body.data.id);
          const list = await call("GET", `/monitors?device_id=${device.body.data.id}`);
          assertEquals(list.body.meta.total, 2);
        });

        await t.step(
          "a NUL in a username reaching login() directly (the login page) is a failed login",
          async () => {
            const err = await login(s.ctx, "192.0.2.99", "adm\u0000in", ADMIN_PASSWORD).then(
              () => undefined,
              (e) => e,
            );
            assert(err instanceof InvalidCredentialsError, String(err));
          },
        );

        await t.step(
          "a NUL in the devices page's search (devicesRepo.list) matches nothing",
          async () => {
            const page = await devicesRepo.list(s.ctx.db, { limit: 10, offset: 0 }, {
              q: "1\u0000",
            });
            assertEquals(page.total, 0);
            assertEquals(page.items, []);
          },
        );

        await t.step(
          "a compressed body is 415 (not parsed as if plain); tags take no unknown field",
          async () => {
            const res = await fetch(`${s.url}/api/v1/sites`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${token}`,
                "content-type": "application/json",
                "content-encoding": "gzip",
              },
              body: JSON.stringify({ name: "zipped" }),
            });
            const body = await res.json();
            assertEquals([res.status, body.error.code], [415, "UNSUPPORTED_MEDIA_TYPE"]);
            const sites = await call("GET", "/sites");
            assert(!JSON.stringify(sites.body).includes("zipped"), "nothing was created");
            const dev = await call("POST", "/devices", { ip: "192.0.2.77" });
            const tags = await call("PUT", `/devices/${dev.body.data.id}/tags`, {
              tags: [],
              zzz: 1,
            });
            assertEquals(tags.status, 400, JSON.stringify(tags.body));
          },
        );

        await t.step("a login refused as malformed counts toward the throttle", async () => {
          for (let i = 0; i < MAX_FAILURES; i++) {
            const res = await s.call("POST", "/auth/login", {
              body: { username: i % 2 ? "adm\u0000in" : "ADM\u0001IN", password: "x" },
            });
            expect400(res, "username", `attempt ${i}`);
          }
          // The lockout covers the real name from this client, whatever variant is sent next.
          for (const username of ["admin", "adm\u0000in"]) {
            const locked = await s.call("POST", "/auth/login", {
              body: { username, password: ADMIN_PASSWORD },
            });
            assertEquals(locked.status, 429, `${JSON.stringify(username)}: ${locked.status}`);
            assert(Number(locked.headers.get("retry-after")) > 0);
          }
        });
      } finally {
        await s.close();
      }
    },
  });

  Deno.test({
    name: `a database outage answers 503 and /metrics keeps answering (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const s = await startTestServer(backend);
      const token = await s.login();
      const restore = await takeDatabaseDown(s);
      try {
        for (const path of ["/devices", "/monitors/1", "/auth/me"]) {
          const res = await s.call("GET", path, { token });
          if (path === "/auth/me") {
            assertEquals(res.status, 200, "a request that needs no database still works");
            continue;
          }
          assertEquals(res.status, 503, `${path}: ${JSON.stringify(res.body)}`);
          assertEquals(res.body.error.code, "DATABASE_UNAVAILABLE");
          assertMatch(res.body.error.message, /database is unavailable/);
          assert(Number(res.headers.get("retry-after")) > 0);
        }
        const login = await s.call("POST", "/auth/login", {
          body: { username: "admin", password: ADMIN_PASSWORD },
        });
        assertEquals(login.status, 503);
        const metrics = await fetch(`${s.url}/metrics`);
        assertEquals(metrics.status, 200);
        const text = await metrics.text();
        assertMatch(text, /^nmslite_database_up 0$/m);
        assertMatch(text, /^nmslite_uptime_seconds /m);
        if (restore) {
          await restore();
          const back = await fetch(`${s.url}/metrics`);
          assertMatch(await back.text(), /^nmslite_database_up 1$/m);
          assertEquals((await s.call("GET", "/devices", { token })).status, 200);
        }
      } finally {
        await s.close();
      }
    },
  });
}
