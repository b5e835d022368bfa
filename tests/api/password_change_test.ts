/**
 * POST /auth/password: a user (a viewer too) changes their own password with the current one;
 * a wrong current password is refused and counted by the login throttle; the user's other
 * sessions end (refresh and access tokens) while the caller gets a new one; it is audited and
 * the passwords appear nowhere.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";

for (const backend of backends()) {
  Deno.test({
    name: `change one's own password (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const s = await startTestServer(backend, { NMSLITE_LOGIN_MAX_FAILURES: "3" });
      try {
        const admin = await s.login();
        const created = await s.call("POST", "/users", {
          token: admin,
          body: { username: "vic", password: "viewer-pass-1", role: "viewer" },
        });
        assertEquals(created.status, 201);
        const login = async (password: string) =>
          await s.call("POST", "/auth/login", { body: { username: "vic", password } });
        const first = (await login("viewer-pass-1")).body.data;
        const other = (await login("viewer-pass-1")).body.data; // another browser

        await t.step("validation: short new password, same as current", async () => {
          const short = await s.call("POST", "/auth/password", {
            token: first.access_token,
            body: { current_password: "viewer-pass-1", new_password: "short" },
          });
          assertEquals([short.status, short.body.error.code], [400, "VALIDATION_ERROR"]);
          const same = await s.call("POST", "/auth/password", {
            token: first.access_token,
            body: { current_password: "viewer-pass-1", new_password: "viewer-pass-1" },
          });
          assertEquals(same.status, 400);
          const nul = await s.call("POST", "/auth/password", {
            token: first.access_token,
            body: { current_password: "viewer-pass-1", new_password: "new-pass\u0000word" },
          });
          assertEquals(nul.status, 400);
          const none = await s.call("POST", "/auth/password", {
            body: { current_password: "viewer-pass-1", new_password: "whatever-long" },
          });
          assertEquals(none.status, 401);
        });

        await t.step("a wrong current password is refused and throttled", async () => {
          for (let i = 0; i < 2; i++) {
            const wrong = await s.call("POST", "/auth/password", {
              token: first.access_token,
              body: { current_password: "guess-" + i, new_password: "new-viewer-pass" },
            });
            assertEquals([wrong.status, wrong.body.error.code], [403, "WRONG_PASSWORD"]);
            assert(!JSON.stringify(wrong.body).includes("guess-"), "no password echoed");
          }
          // the third failure for this client and user is one a failed login adds
          assertEquals((await login("not-it")).status, 401);
          const locked = await s.call("POST", "/auth/password", {
            token: first.access_token,
            body: { current_password: "viewer-pass-1", new_password: "new-viewer-pass" },
          });
          assertEquals(locked.status, 429);
          assertEquals((await login("viewer-pass-1")).status, 429, "login locked out too");
          // tests run the throttle on real time: clear it rather than wait 15 minutes
          s.ctx.loginThrottle.recordSuccess("127.0.0.1", "vic");
        });

        await t.step("the right one changes it and ends the other sessions", async () => {
          const res = await s.call("POST", "/auth/password", {
            token: first.access_token,
            body: { current_password: "viewer-pass-1", new_password: "new-viewer-pass" },
          });
          assertEquals(res.status, 200, JSON.stringify(res.body));
          assertEquals(res.body.data.user.username, "vic");
          const fresh = res.body.data.session;
          assert(fresh?.access_token, "a bearer client gets new tokens");
          assert(!JSON.stringify(res.body).includes("new-viewer-pass"));
          // the new session works; the old access tokens and refresh tokens do not
          assertEquals(
            (await s.call("GET", "/auth/me", { token: fresh.access_token })).status,
            200,
          );
          assertEquals(
            (await s.call("GET", "/auth/me", { token: other.access_token })).status,
            401,
          );
          assertEquals(
            (await s.call("GET", "/auth/me", { token: first.access_token })).status,
            401,
          );
          for (const old of [first, other]) {
            const r = await s.call("POST", "/auth/refresh", {
              body: { refresh_token: old.refresh_token },
            });
            assertEquals(r.status, 401);
          }
          const renewed = await s.call("POST", "/auth/refresh", {
            body: { refresh_token: fresh.refresh_token },
          });
          assertEquals(renewed.status, 200);
          assertEquals((await login("viewer-pass-1")).status, 401);
          assertEquals((await login("new-viewer-pass")).status, 200);
        });

        await t.step("audited, without the passwords", async () => {
          const log = await s.call("GET", "/audit-log?limit=50", { token: admin });
          const actions = log.body.data
            .filter((e: { entity: string }) => e.entity === "user")
            .map((e: { action: string }) => e.action);
          assert(actions.includes("change_password"), actions.join());
          assert(actions.includes("change_password_refused"), actions.join());
          const text = JSON.stringify(log.body);
          for (const p of ["viewer-pass-1", "new-viewer-pass", "guess-0"]) {
            assert(!text.includes(p));
          }
        });

        await t.step("admin unaffected; admin can change theirs too", async () => {
          const res = await s.call("POST", "/auth/password", {
            token: admin,
            body: { current_password: ADMIN_PASSWORD, new_password: "admin-password-2" },
          });
          assertEquals(res.status, 200);
          assertEquals((await s.call("GET", "/users", { token: admin })).status, 401);
        });
      } finally {
        await s.close();
      }
    },
  });
}
