/**
 * Registers an OpenAPI route whose handler returns a plain Response built by the envelope
 * helpers. Requests are still validated and typed from the route's schemas; the declared
 * response schemas document the API.
 */
import type { OpenAPIHono, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "./env.ts";
import type { Page } from "../../lib/db/pagination.ts";

export type RouteContext<R extends RouteConfig> = Parameters<RouteHandler<R, AppEnv>>[0];

export function handle<R extends RouteConfig>(
  app: OpenAPIHono<AppEnv>,
  route: R,
  handler: (c: RouteContext<R>) => Promise<Response>,
): void {
  app.openapi(route, handler as unknown as RouteHandler<R, AppEnv>);
}

export function ok(c: Context, data: unknown, status: ContentfulStatusCode = 200): Response {
  return c.json({ success: true, data }, status);
}

export function okPage(c: Context, page: Page<unknown>): Response {
  return c.json({
    success: true,
    data: page.items,
    meta: { total: page.total, limit: page.limit, offset: page.offset },
  });
}

export function noContent(c: Context): Response {
  return c.body(null, 204);
}
