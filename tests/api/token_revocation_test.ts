/**
 * Revocation is durable and shared: a deleted or demoted user's access token, and the access
 * token of a login that logged out, stay refused after the server restarts (a real main.ts
 * process, stopped and started again on the same data directory). A token without `exp` is
 * refused even when it is signed with the server's own secret.
 */
import { SignJWT } from "jose";
import { assertEquals } from "../helpers/assert.ts";
import { type ChildServer, startChildServer } from "../../scripts/child_server.ts";

const PASSWORD = "token-test-admin-password";

async function call(
  server: ChildServer,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body ? { "content-type": "application/json" } : {}),
    },
    body: opts.body ? JSON.stringify(opts.body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function login(server: ChildServer, username: string, password: string) {
  const res = await call(server, "POST", "/auth/login", { body: { username, password } });
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body.data as { access_token: string; refresh_token: string };
}

Deno.test({
  name: "token revocation survives a restart; logout ends the access token; exp is required",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dataDir = await Deno.makeTempDir({ prefix: "nmslite-tokens-" });
    const env = { NMSLITE_DATA_DIR: dataDir, NMSLITE_ADMIN_PASSWORD: PASSWORD };
    const start = () => startChildServer({ logLevel: "error", env });
    let server = await start();
    try {
      const admin = (await login(server, "admin", PASSWORD)).access_token;
      for (const [username, role] of [["boss2", "admin"], ["alice", "admin"]]) {
        const created = await call(server, "POST", "/users", {
          token: admin,
          body: { username, password: "long-enough-password", role },
        });
        assertEquals(created.status, 201);
      }
      const users = (await call(server, "GET", "/users", { token: admin })).body.data;
      const idOf = (name: string) =>
        users.find((u: { username: string }) => u.username === name).id;
      const boss2 = (await login(server, "boss2", "long-enough-password")).access_token;
      const alice = (await login(server, "alice", "long-enough-password")).access_token;
      const leaving = await login(server, "admin", PASSWORD);
      assertEquals((await call(server, "GET", "/users", { token: boss2 })).status, 200);
      assertEquals(
        (await call(server, "GET", "/users", { token: leaving.access_token })).status,
        200,
      );

      assertEquals(
        (await call(server, "DELETE", `/users/${idOf("boss2")}`, { token: admin })).status,
        204,
      );
      const demoted = await call(server, "PUT", `/users/${idOf("alice")}`, {
        token: admin,
        body: { role: "viewer" },
      });
      assertEquals(demoted.status, 200);
      const logout = await call(server, "POST", "/auth/logout", {
        body: { refresh_token: leaving.refresh_token },
      });
      assertEquals(logout.status, 204);

      const refused = async (token: string, what: string) => {
        const res = await call(server, "GET", "/devices", { token });
        assertEquals(res.status, 401, `${what}: ${JSON.stringify(res.body)}`);
        assertEquals(res.body.error.code, "TOKEN_INVALID");
      };
      await t.step("deleted and demoted users' tokens are refused", async () => {
        await refused(boss2, "deleted admin");
        await refused(alice, "demoted admin");
      });
      await t.step("logout ends the access token too", async () => {
        await refused(leaving.access_token, "logged out");
      });

      await server.stop();
      server = await start();

      await t.step("after a restart the revoked tokens stay refused", async () => {
        await refused(boss2, "deleted admin after restart");
        await refused(alice, "demoted admin after restart");
        await refused(leaving.access_token, "logged out after restart");
        // A deleted admin must not create a new admin with the old token.
        const sneaky = await call(server, "POST", "/users", {
          token: boss2,
          body: { username: "mallory", password: "long-enough-password", role: "admin" },
        });
        assertEquals(sneaky.status, 401);
      });
      // The tokens that were not revoked still work after the restart.
      assertEquals((await call(server, "GET", "/users", { token: admin })).status, 200);

      await t.step("a token without exp is refused", async () => {
        const secret = new TextEncoder().encode(
          (await Deno.readTextFile(`${dataDir}/jwt.secret`)).trim(),
        );
        const forever = await new SignJWT({ username: "admin", role: "admin", ver: 0 })
          .setProtectedHeader({ alg: "HS256", typ: "JWT" })
          .setSubject(String(idOf("admin")))
          .setIssuer("nmslite")
          .setAudience("nmslite-api")
          .setIssuedAt()
          .sign(secret);
        await refused(forever, "token without exp");
      });
    } finally {
      await server.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});
