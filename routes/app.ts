/**
 * The whole HTTP application: the JSON API under /api/v1 and /health. The dashboard pages
 * mount here too.
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv, HttpDeps } from "./http/env.ts";
import { requestLog } from "./http/request_log.ts";
import { ApiError, errorResponse } from "./http/errors.ts";
import { createApiV1 } from "./api/v1/mod.ts";
import { cookieCsrf } from "./http/session.ts";
import { createPages } from "./pages/mod.ts";

export interface AppOptions {
  /** the largest request body /api/v1 accepts */
  bodyLimitBytes: number;
}

export function createApp(
  ctx: HttpDeps,
  opts: AppOptions = { bodyLimitBytes: ctx.config.server.body_limit_bytes },
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", async (c, next) => {
    c.set("app", ctx);
    await next();
  });
  app.use("*", requestLog());
  app.use("*", secureHeaders());
  app.onError(errorResponse);
  app.notFound((c) =>
    errorResponse(new ApiError(404, "NOT_FOUND", `no route ${c.req.method} ${c.req.path}`), c)
  );
  app.get("/health", async (c) => {
    const health = await ctx.health();
    return c.json(
      { success: health.database.reachable, data: health },
      health.database.reachable ? 200 : 503,
    );
  });
  // Prometheus scrape target, unauthenticated like /health: counts only, no names or secrets.
  app.get("/metrics", async (c) =>
    c.body(await ctx.selfMetrics(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  // Browser sessions authenticate by cookie: their writes must prove they come from our pages.
  app.use("/api/v1/*", cookieCsrf());
  app.route("/api/v1", createApiV1(opts.bodyLimitBytes));
  app.route("/", createPages());
  return app;
}
