import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, okPage } from "../../http/define.ts";
import { listQuery, pageResponse, Timestamp } from "./schemas.ts";
import { auditLogRepo } from "../../../lib/db/audit_log.ts";
import { requireRole } from "../../http/auth.ts";
import { bearerRoute } from "./resource.ts";

const AuditEntry = z.object({
  id: z.number().int(),
  at: Timestamp,
  user_id: z.number().int().nullable(),
  username: z.string().nullable(),
  action: z.string(),
  entity: z.string(),
  entity_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  request_id: z.string().nullable(),
}).openapi("AuditEntry");

export function registerAuditLogRoutes(app: OpenAPIHono<AppEnv>): void {
  app.use("/audit-log", requireRole("admin"));
  handle(
    app,
    bearerRoute({
      method: "get",
      path: "/audit-log",
      tags: ["audit"],
      summary: "Every change: who, what, when (admin); newest first by default",
      request: {
        query: listQuery(["id", "at"]).extend({
          order: z.enum(["asc", "desc"]).default("desc"),
          entity: z.string().max(64).optional(),
          username: z.string().max(64).optional(),
        }),
      },
    }, { 200: pageResponse(AuditEntry) }),
    async (c) => {
      const q = c.req.valid("query");
      return okPage(
        c,
        await auditLogRepo.list(c.get("app").db, q, { entity: q.entity, username: q.username }),
      );
    },
  );
}
