/**
 * /login and /logout over real HTTP: form bodies are capped before parsing (413, for a declared
 * length and for a chunked body), and ?next= cannot redirect off-site after a successful login.
 */
import { assertEquals } from "./helpers/assert.ts";
import { ADMIN_PASSWORD, startTestServer } from "./helpers/server.ts";

Deno.test({
  name: "login and logout refuse oversized form bodies; next= stays on this site",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startTestServer("pglite");
    try {
      const big = "username=admin&password=x&pad=" + "a".repeat(2 * 1024 * 1024);
      for (const path of ["/login", "/logout"]) {
        const declared = await fetch(`${server.url}${path}`, {
          method: "POST",
          body: big,
          headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
          redirect: "manual",
        });
        await declared.body?.cancel();
        assertEquals(declared.status, 413, `${path} with Content-Length`);
        // No Content-Length: a stream of chunks is cut off as it passes the cap.
        const chunks = new ReadableStream<Uint8Array>({
          start(ctl) {
            const chunk = new TextEncoder().encode("a".repeat(64 * 1024));
            for (let i = 0; i < 32; i++) ctl.enqueue(chunk);
            ctl.close();
          },
        });
        const chunked = await fetch(`${server.url}${path}`, {
          method: "POST",
          body: chunks,
          headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
          redirect: "manual",
        });
        await chunked.body?.cancel();
        assertEquals(chunked.status, 413, `${path} chunked`);
      }

      const login = async (next: string) => {
        const res = await fetch(`${server.url}/login`, {
          method: "POST",
          body: new URLSearchParams({ username: "admin", password: ADMIN_PASSWORD, next }),
          headers: { origin: server.url },
          redirect: "manual",
        });
        await res.body?.cancel();
        assertEquals(res.status, 303, next);
        return res.headers.get("location")!;
      };
      assertEquals(await login("/devices?status=up"), "/devices?status=up");
      for (
        const next of ["/\\evil.example", "/\t/evil.example", "//evil.example", "\n//evil.example"]
      ) {
        const location = await login(next);
        assertEquals(new URL(location, server.url).origin, server.url, JSON.stringify(next));
      }
      // The form carries the cleaned value too.
      const page = await fetch(`${server.url}/login?next=${encodeURIComponent("/\\evil.example")}`);
      const html = await page.text();
      assertEquals(html.includes("evil.example"), false);
    } finally {
      await server.close();
    }
  },
});
