import { assert, assertEquals, assertMatch, assertNotEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";
import { AccessTokens } from "../../lib/auth/tokens.ts";

for (const backend of backends()) {
  Deno.test({
    name: `auth and users (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const s = await startTestServer(backend, { NMSLITE_LOGIN_MAX_FAILURES: "3" });
      try {
        await t.step("login returns access and refresh tokens", async () => {
          const res = await s.call("POST", "/auth/login", {
            body: { username: "admin", password: ADMIN_PASSWORD },
          });
          assertEquals(res.status, 200);
          assertEquals(res.body.success, true);
          assertMatch(res.body.data.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
          assert(res.body.data.refresh_token.length >= 40);
          const ttl = Date.parse(res.body.data.expires_at) - Date.now();
          assert(ttl > 14 * 60_000 && ttl <= 15 * 60_000, `access ttl ${ttl}`);
          const refreshTtl = Date.parse(res.body.data.refresh_expires_at) - Date.now();
          assert(refreshTtl > 6.9 * 86_400_000 && refreshTtl <= 7 * 86_400_000);
        });

        await t.step("wrong password is 401 and names no secret", async () => {
          const res = await s.call("POST", "/auth/login", {
            body: { username: "admin", password: "not-the-password" },
          });
          assertEquals(res.status, 401);
          assertEquals(res.body.error.code, "INVALID_CREDENTIALS");
          assert(!JSON.stringify(res.body).includes("not-the-password"));
        });

        await t.step("repeated failures per client and username answer 429", async () => {
          for (let i = 0; i < 3; i++) {
            await s.call("POST", "/auth/login", { body: { username: "mallory", password: "x" } });
          }
          const res = await s.call("POST", "/auth/login", {
            body: { username: "mallory", password: "x" },
          });
          assertEquals(res.status, 429);
          assert(Number(res.headers.get("retry-after")) > 0);
          // another username from the same client is not locked out
          const other = await s.call("POST", "/auth/login", {
            body: { username: "admin", password: ADMIN_PASSWORD },
          });
          assertEquals(other.status, 200);
        });

        await t.step("missing, malformed, badly signed and expired tokens are 401", async () => {
          const missing = await s.call("GET", "/devices");
          assertEquals(missing.status, 401);
          assertEquals(missing.body.error.code, "TOKEN_MISSING");
          const malformed = await s.call("GET", "/devices", {
            headers: { authorization: "Token x" },
          });
          assertEquals(malformed.status, 401);
          const forged = await new AccessTokens(new TextEncoder().encode("x".repeat(32)), 60_000)
            .issue({ userId: 1, username: "admin", role: "admin" });
          const bad = await s.call("GET", "/devices", { token: forged.token });
          assertEquals(bad.status, 401);
          assertEquals(bad.body.error.code, "TOKEN_INVALID");
          const secret = new TextEncoder().encode(
            (await Deno.readTextFile(`${s.dataDir}/jwt.secret`)).trim(),
          );
          const expired = await new AccessTokens(secret, -120_000)
            .issue({ userId: 1, username: "admin", role: "admin" });
          const old = await s.call("GET", "/devices", { token: expired.token });
          assertEquals(old.status, 401);
          assertEquals(old.body.error.code, "TOKEN_EXPIRED");
          const valid = await new AccessTokens(secret, 60_000)
            .issue({ userId: 1, username: "admin", role: "admin" });
          assertEquals((await s.call("GET", "/devices", { token: valid.token })).status, 200);
        });

        await t.step("refresh rotates; reusing a rotated token revokes the family", async () => {
          const first = (await s.call("POST", "/auth/login", {
            body: { username: "admin", password: ADMIN_PASSWORD },
          })).body.data;
          const second = await s.call("POST", "/auth/refresh", {
            body: { refresh_token: first.refresh_token },
          });
          assertEquals(second.status, 200);
          assertNotEquals(second.body.data.refresh_token, first.refresh_token);
          const third = await s.call("POST", "/auth/refresh", {
            body: { refresh_token: second.body.data.refresh_token },
          });
          assertEquals(third.status, 200);
          const reuse = await s.call("POST", "/auth/refresh", {
            body: { refresh_token: first.refresh_token },
          });
          assertEquals(reuse.status, 401);
          assertEquals(reuse.body.error.code, "REFRESH_TOKEN_REUSED");
          // the newest token of the family is revoked too
          const after = await s.call("POST", "/auth/refresh", {
            body: { refresh_token: third.body.data.refresh_token },
          });
          assertEquals(after.status, 401);
          assertEquals(after.body.error.code, "REFRESH_TOKEN_REVOKED");
          const garbage = await s.call("POST", "/auth/refresh", {
            body: { refresh_token: "nope" },
          });
          assertEquals(garbage.status, 401);
        });

        await t.step("logout revokes the refresh token", async () => {
          const session = (await s.call("POST", "/auth/login", {
            body: { username: "admin", password: ADMIN_PASSWORD },
          })).body.data;
          assertEquals(
            (await s.call("POST", "/auth/logout", {
              body: { refresh_token: session.refresh_token },
            }))
              .status,
            204,
          );
          const res = await s.call("POST", "/auth/refresh", {
            body: { refresh_token: session.refresh_token },
          });
          assertEquals(res.status, 401);
        });

        const admin = await s.login();
        let viewerId = 0;

        await t.step("users CRUD is admin only; roles are enforced", async () => {
          const created = await s.call("POST", "/users", {
            token: admin,
            body: { username: "vera", password: "viewer-pass-1", role: "viewer" },
          });
          assertEquals(created.status, 201);
          assertEquals(created.body.data.role, "viewer");
          assert(!("password_hash" in created.body.data));
          viewerId = created.body.data.id;
          const op = await s.call("POST", "/users", {
            token: admin,
            body: { username: "otto", password: "operator-pass-1", role: "operator" },
          });
          assertEquals(op.status, 201);
          const dup = await s.call("POST", "/users", {
            token: admin,
            body: { username: "otto", password: "operator-pass-2", role: "viewer" },
          });
          assertEquals(dup.status, 409);
          const short = await s.call("POST", "/users", {
            token: admin,
            body: { username: "x", password: "short", role: "viewer" },
          });
          assertEquals(short.status, 400);
          assertEquals(short.body.error.details.field, "password");

          const viewer = await s.login("vera", "viewer-pass-1");
          const operator = await s.login("otto", "operator-pass-1");
          assertEquals((await s.call("GET", "/devices", { token: viewer })).status, 200);
          const viewerWrite = await s.call("POST", "/devices", {
            token: viewer,
            body: { ip: "10.9.9.9" },
          });
          assertEquals(viewerWrite.status, 403);
          assertEquals((await s.call("GET", "/users", { token: operator })).status, 403);
          assertEquals((await s.call("GET", "/audit-log", { token: operator })).status, 403);
          const opWrite = await s.call("POST", "/devices", {
            token: operator,
            body: { ip: "10.9.9.9" },
          });
          assertEquals(opWrite.status, 201);
          const list = await s.call("GET", "/users?sort=username", { token: admin });
          assertEquals(list.body.data.map((u: { username: string }) => u.username), [
            "admin",
            "otto",
            "vera",
          ]);

          // a role change ends the user's sessions at once
          const promoted = await s.call("PUT", `/users/${viewerId}`, {
            token: admin,
            body: { role: "operator" },
          });
          assertEquals(promoted.status, 200);
          assertEquals((await s.call("GET", "/devices", { token: viewer })).status, 401);
        });

        await t.step("the last admin can be neither demoted nor deleted", async () => {
          const me = (await s.call("GET", "/auth/me", { token: admin })).body.data;
          const demote = await s.call("PUT", `/users/${me.id}`, {
            token: admin,
            body: { role: "viewer" },
          });
          assertEquals(demote.status, 400);
          assertEquals(demote.body.error.code, "LAST_ADMIN");
          assertEquals((await s.call("DELETE", `/users/${me.id}`, { token: admin })).status, 400);
          assertEquals(
            (await s.call("DELETE", `/users/${viewerId}`, { token: admin })).status,
            204,
          );
          assertEquals((await s.call("GET", `/users/${viewerId}`, { token: admin })).status, 404);
        });

        await t.step("the audit log records changes with who and what", async () => {
          const res = await s.call("GET", "/audit-log?entity=user", { token: admin });
          assertEquals(res.status, 200);
          const actions = res.body.data.map((e: { action: string }) => e.action);
          assert(actions.includes("create") && actions.includes("delete"));
          assert(res.body.data.every((e: { username: string }) => e.username === "admin"));
          assert(!JSON.stringify(res.body).includes("viewer-pass-1"));
        });
      } finally {
        await s.close();
      }
    },
  });
}
