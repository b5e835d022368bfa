/**
 * Session cookies are Secure exactly when the browser's request was HTTPS: TLS ended at the
 * server (lib/web/serve.ts with the certificate of lib/tls_certificate.ts), or a configured
 * trusted proxy says X-Forwarded-Proto: https. Over plain HTTP they are not, so a --plain-http
 * server on another machine can keep a session.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { ADMIN_PASSWORD, startTestServer } from "./helpers/server.ts";
import { arrivedOverHttps } from "../lib/web/cookies.ts";
import { serve } from "../lib/web/serve.ts";
import { createApp } from "../routes/app.ts";
import { loadTlsMaterial } from "../lib/tls_certificate.ts";

Deno.test("arrivedOverHttps believes X-Forwarded-Proto only from a trusted proxy", () => {
  const proxies = ["10.0.0.5", "fd00::1"];
  assert(arrivedOverHttps({ url: "https://nms/x" }, []));
  assert(!arrivedOverHttps({ url: "http://nms/x" }, proxies));
  const http = { url: "http://nms/x", forwardedProto: "https" };
  assert(arrivedOverHttps({ ...http, remoteAddress: "10.0.0.5" }, proxies));
  assert(arrivedOverHttps({ ...http, remoteAddress: "::ffff:10.0.0.5" }, proxies));
  assert(arrivedOverHttps({ ...http, remoteAddress: "FD00::1" }, proxies));
  assert(!arrivedOverHttps({ ...http, remoteAddress: "10.0.0.6" }, proxies));
  assert(!arrivedOverHttps({ ...http, remoteAddress: "10.0.0.5" }, []));
  assert(
    !arrivedOverHttps({ ...http, forwardedProto: "http", remoteAddress: "10.0.0.5" }, proxies),
  );
  assert(
    !arrivedOverHttps({ ...http, forwardedProto: "http, https", remoteAddress: "10.0.0.5" }, [
      "10.0.0.5",
    ]),
  );
});

Deno.test({
  name: "login cookies: Secure over HTTPS and from a trusted proxy, not over plain HTTP",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startTestServer("pglite");
    const tls = await loadTlsMaterial({ dataDir: server.dataDir });
    const https = serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: tls.cert, key: tls.key },
      onWarning: () => {},
    }, createApp(server.ctx).fetch);
    const client = Deno.createHttpClient({ caCerts: [tls.cert] });
    const login = async (base: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}/login`, {
        method: "POST",
        body: new URLSearchParams({ username: "admin", password: ADMIN_PASSWORD }),
        headers: { origin: base, ...headers },
        redirect: "manual",
        client,
      });
      await res.body?.cancel();
      assertEquals(res.status, 303);
      const cookies = res.headers.getSetCookie();
      assertEquals(cookies.length, 3);
      const secure = cookies.map((c) => /;\s*Secure/i.test(c));
      assert(secure.every((s) => s === secure[0]), cookies.join(" | "));
      for (const c of cookies) assert(/SameSite=Strict/.test(c), c);
      return secure[0];
    };
    try {
      assertEquals(await login(server.url), false, "plain HTTP");
      assertEquals(await login(server.url, { "x-forwarded-proto": "https" }), false, "untrusted");
      server.ctx.config.server.trusted_proxies = ["127.0.0.1"];
      assertEquals(await login(server.url, { "x-forwarded-proto": "https" }), true, "via proxy");
      assertEquals(await login(server.url, { "x-forwarded-proto": "http" }), false, "proxy: http");
      server.ctx.config.server.trusted_proxies = [];
      assertEquals(await login(`https://localhost:${https.addr.port}`), true, "HTTPS");
    } finally {
      client.close();
      await https.shutdown();
      await server.close();
    }
  },
});
