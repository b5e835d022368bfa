/**
 * Responses through lib/web/serve.ts: text is brotli- or gzip-compressed by Accept-Encoding,
 * fingerprinted /static assets are immutable with an ETag (304 on revalidation), and other
 * cacheable GETs get an ETag and 304 too. Real server, real HTTP.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { ADMIN_PASSWORD, startTestServer } from "./helpers/server.ts";
import { serve } from "../lib/web/serve.ts";
import { negotiateEncoding } from "../lib/web/compress.ts";
import { createApp } from "../routes/app.ts";
import { webAssets } from "../routes/pages/mod.ts";

Deno.test("negotiateEncoding follows Accept-Encoding and its q-values", () => {
  assertEquals(negotiateEncoding(null), undefined);
  assertEquals(negotiateEncoding("gzip, deflate, br"), "br");
  assertEquals(negotiateEncoding("gzip"), "gzip");
  assertEquals(negotiateEncoding("br;q=0, gzip"), "gzip");
  assertEquals(negotiateEncoding("br;q=0.5, gzip;q=0.8"), "gzip");
  assertEquals(negotiateEncoding("identity"), undefined);
  assertEquals(negotiateEncoding("*"), "br");
  assertEquals(negotiateEncoding("*;q=0, gzip;q=0"), undefined);
});

Deno.test({
  name: "pages, assets and API answers go out compressed, assets immutable, ETag and 304",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const test = await startTestServer("pglite");
    const server = serve(
      { hostname: "127.0.0.1", port: 0, onWarning: () => {} },
      createApp(test.ctx).fetch,
    );
    const base = `http://127.0.0.1:${server.addr.port}`;
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${path}`, { headers });
      // fetch decodes the body; the headers still say how it travelled
      const body = new Uint8Array(await res.arrayBuffer());
      return { res, body, sent: Number(res.headers.get("content-length") ?? body.length) };
    };
    try {
      // A page: brotli, or gzip when that is all the client takes, identity otherwise.
      const login = await fetch(`${base}/login`, {
        method: "POST",
        body: new URLSearchParams({ username: "admin", password: ADMIN_PASSWORD }),
        headers: { origin: base },
        redirect: "manual",
      });
      await login.body?.cancel();
      const cookie = login.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
      const plain = await get("/devices", { cookie, "accept-encoding": "identity" });
      assertEquals(plain.res.status, 200);
      assert(plain.body.length > 1024, `page of ${plain.body.length} bytes`);
      assertEquals(plain.res.headers.get("content-encoding"), null);
      assert(plain.res.headers.get("vary")?.toLowerCase().includes("accept-encoding"));
      const text = (b: Uint8Array) =>
        new TextDecoder().decode(b).replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, "<id>");
      for (const encoding of ["br", "gzip"]) {
        const page = await get("/devices", { cookie, "accept-encoding": encoding });
        assertEquals(page.res.headers.get("content-encoding"), encoding);
        assertEquals(text(page.body), text(plain.body), `${encoding} decodes to the page`);
        assert(page.sent < plain.body.length, `${encoding}: ${page.sent} < ${plain.body.length}`);
      }

      // The largest island chunk: fingerprinted, immutable, compressed, revalidated by ETag.
      const assets = await webAssets();
      assert(!assets.error, assets.error);
      const [path, asset] = [...assets.files].sort((a, b) =>
        b[1].body.length - a[1].body.length
      )[0];
      const js = await get(`/static${path}`, { "accept-encoding": "gzip, deflate, br" });
      assertEquals(js.res.status, 200);
      assertEquals(js.res.headers.get("content-encoding"), "br");
      assert(/immutable/.test(js.res.headers.get("cache-control") ?? ""));
      assertEquals(js.body, asset.body);
      assert(js.sent * 2 < asset.body.length, `${path}: ${js.sent} of ${asset.body.length} bytes`);
      const etag = js.res.headers.get("etag");
      assert(etag, "an ETag on the asset");
      const again = await get(`/static${path}`, { "if-none-match": etag });
      assertEquals(again.res.status, 304);
      assertEquals(again.body.length, 0);

      // A cacheable API answer: ETag and 304; pages (no-store) get none.
      const doc = await get("/api/v1/openapi.json", { "accept-encoding": "gzip" });
      assertEquals(doc.res.status, 200);
      assertEquals(doc.res.headers.get("content-encoding"), "gzip");
      const docTag = doc.res.headers.get("etag");
      assert(docTag);
      assertEquals(
        (await get("/api/v1/openapi.json", { "if-none-match": docTag })).res.status,
        304,
      );
      assertEquals(plain.res.headers.get("etag"), null, "no-store pages carry no ETag");
    } finally {
      await server.shutdown();
      await test.close();
    }
  },
});
