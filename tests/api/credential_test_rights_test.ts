/**
 * POST /credential-profiles/:id/test sends a stored secret to an address. An operator may test
 * against known devices only (any other address needs an admin), a Basic password never goes
 * over plain HTTP, and every test is in the audit log. A listener on loopback shows what
 * actually reached the address.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer } from "../helpers/server.ts";

/** A TCP listener that counts connections and keeps what they sent. */
function listener(hostname: string) {
  const server = Deno.listen({ hostname, port: 0 });
  const seen: string[] = [];
  (async () => {
    for await (const conn of server) {
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf).catch(() => null);
      seen.push(n ? new TextDecoder().decode(buf.subarray(0, n)) : "");
      conn.close();
    }
  })().catch(() => {});
  return { port: (server.addr as Deno.NetAddr).port, seen, close: () => server.close() };
}

for (const backend of backends()) {
  Deno.test({
    name: `credential test: who may send a secret where (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const s = await startTestServer(backend);
      const trap = listener("127.0.77.9");
      const known = listener("127.0.77.10");
      try {
        const admin = await s.login();
        await s.call("POST", "/users", {
          token: admin,
          body: { username: "olga", password: "operator-pass-1", role: "operator" },
        });
        const operator = await s.login("olga", "operator-pass-1");
        const profile = async (type: string, port: number, use_ssl = false) =>
          (await s.call("POST", "/credential-profiles", {
            token: admin,
            body: {
              name: `${type}-${port}-${use_ssl}`,
              type,
              username: "Administrator",
              password: "Tr4p-Secret-pw",
              port,
              use_ssl,
              ...(type === "winrm_basic" ? { allow_unencrypted: true } : {}),
            },
          })).body.data;
        const ntlmTrap = await profile("winrm_ntlm", trap.port);
        const ntlmKnown = await profile("winrm_ntlm", known.port);
        const basicHttp = await profile("winrm_basic", known.port);
        const device = await s.call("POST", "/devices", {
          token: admin,
          body: { ip: "127.0.77.10" },
        });
        assertEquals(device.status, 201);
        const test = (token: string, id: number, ip: string) =>
          s.call("POST", `/credential-profiles/${id}/test`, { token, body: { ip } });

        await t.step("an operator cannot aim a profile at an unknown address", async () => {
          const res = await test(operator, ntlmTrap.id, "127.0.77.9");
          assertEquals([res.status, res.body.error.code], [403, "FORBIDDEN"]);
          assert(res.body.error.message.includes("not a known device"), res.body.error.message);
          assertEquals(trap.seen.length, 0, "nothing reached the listener");
        });

        await t.step("an operator tests against a known device", async () => {
          const res = await test(operator, ntlmKnown.id, "127.0.77.10");
          assertEquals(res.status, 200);
          assertEquals(res.body.data.ok, false, "the listener is no WinRM server");
          assert(known.seen.length > 0, "the test reached the device");
          assert(!known.seen.join("").includes("Tr4p-Secret-pw"), "NTLM sends no password");
        });

        await t.step("an admin may test any address", async () => {
          const res = await test(admin, ntlmTrap.id, "127.0.77.9");
          assertEquals(res.status, 200);
          assert(trap.seen.length > 0, "the admin's test reached the address");
        });

        await t.step("Basic over plain HTTP is never sent, even by an admin", async () => {
          const before = known.seen.length;
          for (const token of [admin, operator]) {
            const res = await test(token, basicHttp.id, "127.0.77.10");
            assertEquals([res.status, res.body.error.code], [400, "INSECURE_TRANSPORT"]);
            assertEquals(res.body.error.details.field, "use_ssl");
          }
          assertEquals(known.seen.length, before, "no connection was made");
        });

        await t.step("every test, refused or not, is audited without the secret", async () => {
          const log = await s.call("GET", "/audit-log?limit=100", { token: admin });
          assertEquals(log.status, 200);
          const tests = log.body.data.filter((e: { action: string }) => e.action === "test");
          assertEquals(tests.length, 5);
          const refused = tests.filter((e: { details: { refused?: string } }) => e.details.refused);
          assertEquals(refused.length, 3);
          assert(
            tests.some((e: { username: string; details: { ip: string } }) =>
              e.username === "olga" && e.details.ip === "127.0.77.9"
            ),
            "the operator's refused attempt is recorded",
          );
          assert(!JSON.stringify(log.body).includes("Tr4p-Secret-pw"));
        });
      } finally {
        trap.close();
        known.close();
        await s.close();
      }
    },
  });
}
