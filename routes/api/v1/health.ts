import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle } from "../../http/define.ts";
import { jsonResponse } from "./schemas.ts";

const Health = z.object({
  success: z.boolean(),
  data: z.object({
    status: z.enum(["ok", "degraded"]),
    version: z.string(),
    uptime_seconds: z.number(),
    database: z.object({
      reachable: z.boolean(),
      kind: z.string(),
      latency_ms: z.number().nullable(),
    }),
    alerting: z.object({
      outbox_depth: z.number().int(),
      dead_letters: z.number().int(),
      open_problems: z.number().int(),
    }).optional().openapi({ description: "where alert evaluation runs; dead letters degrade" }),
  }),
}).openapi("Health");

export function registerHealthRoute(app: OpenAPIHono<AppEnv>): void {
  handle(
    app,
    createRoute({
      method: "get",
      path: "/health",
      tags: ["health"],
      summary: "Liveness and database reachability (no authentication)",
      responses: {
        200: jsonResponse(Health, "Healthy"),
        503: jsonResponse(Health, "The database is unreachable"),
      },
    }),
    async (c) => {
      const health = await c.get("app").health();
      return c.json(
        { success: health.database.reachable, data: health },
        health.database.reachable ? 200 : 503,
      );
    },
  );
}
