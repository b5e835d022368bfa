/**
 * The dashboard: server-rendered pages (one module per URL), their static assets, and the
 * cookie session's login/logout/refresh. Islands are bundled once per process, on the first
 * page request (not at creation, so API-only tests never spawn the bundler).
 */
import { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import { pageSession } from "../http/session.ts";
import { buildWebAssets, type WebAssets } from "../../lib/web/bundle.ts";
import { getLogger } from "@logtape/logtape";
import { createView, type Page } from "./view.tsx";
import { islands } from "./islands.ts";
import { registerLoginPages } from "./login.tsx";
import { overviewJson, overviewPage } from "./overview.tsx";
import { devicesPage } from "./devices.tsx";
import { devicePage } from "./device.tsx";
import { monitorsPage } from "./monitors.tsx";
import { discoveryPage } from "./discovery.tsx";
import { credentialsPage } from "./credentials.tsx";
import { usersPage } from "./users.tsx";
import { accountPage } from "./account.tsx";
import { pollersPage } from "./pollers.tsx";
import { alertRulesPage, channelsPage, maintenancePage, problemsPage } from "./problems.tsx";

const log = getLogger(["nmslite", "web"]);

/** Every page for signed-in users; each is served behind the cookie session. */
export const PAGES: readonly Page[] = [
  overviewPage,
  overviewJson,
  devicesPage,
  devicePage,
  discoveryPage,
  credentialsPage,
  monitorsPage,
  usersPage,
  accountPage,
  pollersPage,
  problemsPage,
  alertRulesPage,
  maintenancePage,
  channelsPage,
];

let shared: Promise<WebAssets> | null = null;

/** One bundle per process: every app instance (tests start several) shares it. */
export function webAssets(): Promise<WebAssets> {
  shared ??= buildWebAssets(Object.values(islands)).then((a) => {
    if (a.error) log.error("islands not bundled, pages stay static: {error}", { error: a.error });
    return a;
  });
  return shared;
}

export function createPages(): Hono<AppEnv> {
  const view = createView(webAssets);
  const app = new Hono<AppEnv>();
  app.get("/static/*", async (c) => {
    const file = (await webAssets()).files.get(c.req.path.slice("/static".length));
    if (!file) return c.text("not found", 404);
    // JS paths carry the build hash and the CSS URL a content hash: cache for good.
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, {
      "content-type": file.type,
      "cache-control": "public, max-age=31536000, immutable",
    });
  });
  // A failing page still answers with a page that says what to do, never a blank one.
  app.onError(async (err, c) => {
    log.error("page failed: {path}: {error}", { path: c.req.path, error: String(err) });
    // The stylesheet's URL carries its content hash (/static is cached as immutable).
    const css = await webAssets().then((a) => a.css, () => "/static/app.css");
    return c.html(
      `<!doctype html><html lang="en"><meta charset="utf-8"><title>Error · NMSlite</title>` +
        `<link rel="stylesheet" href="${css}"><main id="main"><div class="empty">` +
        `<h1>Something went wrong</h1><p>The page could not be built (request ` +
        `${c.get("requestId") ?? ""}). Try again, or go back to the <a href="/">overview</a>.` +
        `</p></div></main></html>`,
      500,
    );
  });
  app.get("/favicon.ico", (c) => c.body(null, 204));
  registerLoginPages(app, view);
  const session = pageSession();
  for (const p of PAGES) app.get(p.path, session, (c) => p.get(c, view));
  return app;
}
