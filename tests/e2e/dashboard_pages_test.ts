/**
 * The dashboard's registrations: every registered page is served behind the cookie session,
 * and a page loads the scripts of exactly the islands it rendered (each render records its
 * own); every registered island is the default export of its module and has a bundle entry.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";
import { PAGES, webAssets } from "../../routes/pages/mod.ts";
import { islands } from "../../routes/pages/islands.ts";
import { renderDocument } from "../../components/Document.tsx";
import { Island, type IslandDef } from "../../components/Island.tsx";
import type { WebAssets } from "../../lib/web/bundle.ts";
import { Fragment, h, type VNode } from "preact";

const namesIn = (html: string, re: RegExp) =>
  [...new Set([...html.matchAll(re)].map((m) => m[1]))].sort();

const SCRIPT = /<script type="module" src="[^"]*\/(\w+)\.js"/g;

Deno.test("every registered island is the default export of the module it names", async () => {
  for (const [key, island] of Object.entries(islands)) {
    assertEquals(island.name, key);
    const mod = await import(island.module.href);
    assert(mod.default === island.component, `${key}: ${island.module.href}`);
  }
});

Deno.test("a document loads the islands of its own render, even around a nested one", () => {
  const def = (name: string, component: () => VNode): IslandDef<object> => ({
    name,
    component,
    module: new URL(`https://example.invalid/${name}.tsx`),
  });
  const island = (of: IslandDef<object>) => h(Island, { of, props: {} });
  const assets: WebAssets = {
    entries: new Map(["A", "B", "C"].map((n) => [n, `/static/js/t/${n}.js`])),
    files: new Map(),
    css: "/static/app.css",
  };
  const b = def("B", () => h("p", null, "b"));
  let inner = "";
  const a = def("A", () => {
    inner = renderDocument(assets, "inner", island(b));
    return h("p", null, "a");
  });
  const c = def("C", () => h("p", null, "c"));
  const outer = renderDocument(assets, "outer", h(Fragment, null, island(a), island(c)));
  assertEquals(namesIn(inner, SCRIPT), ["B"]);
  assertEquals(namesIn(outer, SCRIPT), ["A", "C"]);
});

/** The islands each page renders here: no monitor exists, so /monitors shows none. */
const RENDERS: Record<string, string[] | "json"> = {
  "/": ["Overview"],
  "/overview.json": "json",
  "/devices": ["DeviceAdd", "LocalTimes"],
  "/devices/:id{[0-9]+}": [
    "DeviceActions",
    "DeviceCharts",
    "DeviceTags",
    "LocalTimes",
    "MonitorEditor",
  ],
  "/discovery": ["DiscoveryPanel"],
  "/credentials": ["CredentialProfiles"],
  "/monitors": ["LocalTimes"],
  "/users": ["UserAdmin"],
  "/account": ["PasswordChange"],
  "/pollers": ["PollerNodes"],
  "/problems": ["Problems"],
  "/alert-rules": ["AlertRules"],
  "/maintenance": ["MaintenanceWindows"],
  "/notifications": ["NotificationChannels"],
};

Deno.test({
  name: "every registered page is behind the session and loads its islands' scripts only",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startTestServer("pglite");
    try {
      const { url } = server;
      const token = await server.login();
      const device = await server.call("POST", "/devices", {
        token,
        body: { ip: "127.0.42.1" },
      });
      assertEquals(device.status, 201);
      const pathOf = (p: string) => p.replace(/:id\{[^}]*\}/, String(device.body.data.id));
      assertEquals(PAGES.map((p) => p.path).sort(), Object.keys(RENDERS).sort());

      for (const p of PAGES) {
        const res = await fetch(`${url}${pathOf(p.path)}`, { redirect: "manual" });
        await res.body?.cancel();
        assertEquals(
          [res.status, res.headers.get("location")],
          [303, `/login?next=${encodeURIComponent(pathOf(p.path))}`],
          `${p.path} signed out`,
        );
      }

      const login = await fetch(`${url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { origin: url },
        body: new URLSearchParams({ username: "admin", password: ADMIN_PASSWORD }),
      });
      await login.body?.cancel();
      const cookie = login.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
      const assets = await webAssets();
      assertEquals(assets.error, undefined);
      assertEquals([...assets.entries.keys()].sort(), Object.keys(islands).sort());
      for (const p of PAGES) {
        const res = await fetch(`${url}${pathOf(p.path)}`, { headers: { cookie } });
        const body = await res.text();
        assertEquals(res.status, 200, `${p.path}: ${body.slice(0, 200)}`);
        const expected = RENDERS[p.path];
        if (expected === "json") {
          assertEquals(typeof JSON.parse(body).devices_total, "number");
          continue;
        }
        assertEquals(namesIn(body, /data-island="(\w+)"/g), expected, `${p.path} markers`);
        const scripts = namesIn(body, SCRIPT);
        assertEquals(scripts, expected, `${p.path} scripts`);
      }
    } finally {
      await server.close();
    }
  },
});
