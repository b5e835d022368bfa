/**
 * The dashboard's cookie session over plain HTTP (no browser): cookie flags, login CSRF, the
 * CSRF header on cookie-authenticated writes, Bearer untouched, shared silent refresh, logout.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startTestServer } from "../helpers/server.ts";

Deno.test({
  name: "dashboard session cookies, CSRF and refresh over HTTP",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startTestServer("pglite");
    try {
      const url = server.url;
      const jarOf = (res: Response) =>
        Object.fromEntries(res.headers.getSetCookie().map((c) => c.split(";")[0].split("=")));
      const header = (jar: Record<string, string>) =>
        Object.entries(jar).map(([k, v]) => `${k}=${v}`).join("; ");
      const form = new URLSearchParams({ username: "admin", password: "admin-password-1" });

      // the API's Bearer login is untouched: tokens in the body, no cookie
      const bearer = await server.call("POST", "/auth/login", {
        body: { username: "admin", password: "admin-password-1" },
      });
      assertEquals(bearer.status, 200);
      assertEquals(bearer.headers.getSetCookie(), []);

      const foreign = await fetch(`${url}/login`, {
        method: "POST",
        body: form,
        redirect: "manual",
        headers: { origin: "https://evil.example" },
      });
      await foreign.body?.cancel();
      assertEquals(foreign.status, 403, "login from another site");
      const login = await fetch(`${url}/login`, {
        method: "POST",
        body: form,
        redirect: "manual",
        headers: { origin: url },
      });
      await login.body?.cancel();
      assertEquals(login.status, 303);
      for (const c of login.headers.getSetCookie()) {
        // plain HTTP: not Secure (tests/web_cookies_test.ts covers HTTPS and trusted proxies)
        assertMatch(c, /; SameSite=Strict/);
        assert(!/; Secure/.test(c), c);
        if (!c.startsWith("nmslite_csrf=")) assertMatch(c, /HttpOnly/);
      }
      const jar = jarOf(login);
      const cookie = header(jar);
      const body = JSON.stringify({ ip: "127.0.41.9" });
      const post = (headers: Record<string, string>) =>
        fetch(`${server.api}/devices`, {
          method: "POST",
          body,
          headers: { "content-type": "application/json", ...headers },
        });
      const list = await fetch(`${server.api}/devices`, { headers: { cookie } });
      assertEquals(list.status, 200, "cookie reads the API");
      await list.body?.cancel();
      let res = await post({ cookie, origin: url });
      assertEquals([res.status, (await res.json()).error.code], [403, "CSRF_FAILED"]);
      res = await post({
        cookie,
        origin: "https://evil.example",
        "x-csrf-token": jar.nmslite_csrf,
      });
      assertEquals(res.status, 403, "right token, wrong origin");
      await res.body?.cancel();
      res = await post({ cookie, origin: url, "x-csrf-token": jar.nmslite_csrf });
      assertEquals(res.status, 201);
      await res.body?.cancel();
      // Bearer needs no CSRF token, even with cookies around
      res = await post({ cookie, authorization: `Bearer ${bearer.body.data.access_token}` });
      assertEquals(res.status, 409, "reached the handler (duplicate IP)");
      await res.body?.cancel();

      // silent refresh: concurrent refreshes with one cookie share one rotation
      const refresh = () =>
        fetch(`${url}/session/refresh`, {
          method: "POST",
          headers: { cookie, origin: url, "x-csrf-token": jar.nmslite_csrf },
        });
      const both = await Promise.all([refresh(), refresh()]);
      for (const r of both) {
        assertEquals(r.status, 200);
        await r.body?.cancel();
      }
      const refreshed = { ...jar, ...jarOf(both[0]) };
      assert(refreshed.nmslite_refresh !== jar.nmslite_refresh, "rotated");
      // a page with an unusable access cookie refreshes on the server and renders
      const page = await fetch(`${url}/devices`, {
        headers: { cookie: header({ ...refreshed, nmslite_access: "garbage" }) },
      });
      assertEquals(page.status, 200);
      assert(page.headers.getSetCookie().some((c) => c.startsWith("nmslite_access=")));
      await page.body?.cancel();

      // logout clears the cookies and ends the login, earlier refresh tokens included
      const out = await fetch(`${url}/logout`, {
        method: "POST",
        redirect: "manual",
        body: new URLSearchParams({ csrf: refreshed.nmslite_csrf }),
        headers: { cookie: header(refreshed), origin: url },
      });
      await out.body?.cancel();
      assertEquals([out.status, out.headers.get("location")], [303, "/login"]);
      assertEquals(out.headers.getSetCookie().filter((c) => /Max-Age=0/.test(c)).length, 3);
      for (const token of [refreshed.nmslite_refresh, jar.nmslite_refresh]) {
        const again = await fetch(`${url}/session/refresh`, {
          method: "POST",
          headers: {
            cookie: header({ ...refreshed, nmslite_refresh: token }),
            origin: url,
            "x-csrf-token": refreshed.nmslite_csrf,
          },
        });
        assertEquals(again.status, 401, "no session after logout");
        await again.body?.cancel();
      }
      const gone = await fetch(`${url}/devices`, { redirect: "manual" });
      await gone.body?.cancel();
      assertEquals(gone.status, 303);
    } finally {
      await server.close();
    }
  },
});
