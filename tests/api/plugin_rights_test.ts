/**
 * Exec plugins are code run on the server with decrypted credentials: only an admin creates,
 * changes or deletes one, and only an executable in the plugin directory may be named (the
 * test server's directory holds one, "echo").
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer } from "../helpers/server.ts";

for (const backend of backends()) {
  Deno.test({
    name: `plugins: admins only, commands from the plugin directory only (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const s = await startTestServer(backend);
      try {
        const admin = await s.login();
        await s.call("POST", "/users", {
          token: admin,
          body: { username: "otto", password: "operator-pass-1", role: "operator" },
        });
        const operator = await s.login("otto", "operator-pass-1");
        const create = (token: string, command: string, extra: Record<string, unknown> = {}) =>
          s.call("POST", "/plugins", {
            token,
            body: { name: `p-${crypto.randomUUID().slice(0, 8)}`, config: { command, ...extra } },
          });

        let pluginId = 0;
        await t.step("an operator can neither create, change nor delete a plugin", async () => {
          const res = await create(operator, "echo");
          assertEquals([res.status, res.body.error.code], [403, "FORBIDDEN"]);
          const made = await create(admin, "echo");
          assertEquals(made.status, 201, JSON.stringify(made.body));
          pluginId = made.body.data.id;
          const put = await s.call("PUT", `/plugins/${pluginId}`, {
            token: operator,
            body: { config: { command: "echo", args: ["{}"] } },
          });
          assertEquals(put.status, 403);
          const del = await s.call("DELETE", `/plugins/${pluginId}`, { token: operator });
          assertEquals(del.status, 403);
          const read = await s.call("GET", `/plugins/${pluginId}`, { token: operator });
          assertEquals(read.status, 200, "reading stays open to every role");
        });

        await t.step("a shell, a path elsewhere or .. is refused, naming the field", async () => {
          for (
            const [command, words] of [
              ["/bin/sh", "outside the plugin directory"],
              ["/usr/bin/env", "outside the plugin directory"],
              ["../../../bin/sh", '".." is not allowed'],
              ["missing-plugin", "does not exist"],
            ]
          ) {
            const res = await create(admin, command);
            assertEquals(res.status, 400, command);
            assertEquals(res.body.error.details.field, "config.command", command);
            assert(res.body.error.message.includes(words), res.body.error.message);
          }
          const env = await create(admin, "echo", { env: { LD_PRELOAD: "/tmp/evil.so" } });
          assertEquals([env.status, env.body.error.details.field], [400, "config.env"]);
          const moved = await s.call("PUT", `/plugins/${pluginId}`, {
            token: admin,
            body: { config: { command: "/bin/sh", args: ["-c", "id"] } },
          });
          assertEquals([moved.status, moved.body.error.details.field], [400, "config.command"]);
        });
      } finally {
        await s.close();
      }
    },
  });
}
