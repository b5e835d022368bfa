/** Sites: where devices live and which poller nodes poll them (`local`, id 1, is built in). */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { errors, listQuery, Timestamp } from "./schemas.ts";
import { resourceRoutes } from "./resource.ts";
import { requireRole } from "../../http/auth.ts";

const Site = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string(),
  devices: z.number().int(),
  nodes: z.number().int().openapi({ description: "poller nodes not revoked" }),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("Site");

const CreateBody = z.object({
  name: z.string().trim().min(1).max(64).openapi({ example: "branch-berlin" }),
  description: z.string().max(1000).default(""),
}).strict().openapi("SiteCreate");

const UpdateBody = z.object({
  name: CreateBody.shape.name.optional(),
  description: z.string().max(1000).optional(),
}).strict().openapi("SiteUpdate");

export function registerSiteRoutes(app: OpenAPIHono<AppEnv>): void {
  // A site decides which nodes receive which credentials: admins change sites.
  app.on(["POST", "PUT", "PATCH", "DELETE"], ["/sites", "/sites/*"], requireRole("admin"));
  resourceRoutes(app, {
    noun: "site",
    schema: Site,
    service: (s) => s.sites,
    list: { query: listQuery(["id", "name", "created_at"]) },
    create: { summary: "Create a site (admin)", body: CreateBody },
    get: {},
    update: {
      summary: "Rename or describe a site (admin)",
      errors: errors.conflict,
      body: UpdateBody,
    },
    delete: {
      summary: "Delete a site that holds no device, discovery profile or node (admin)",
      errors: errors.inUse,
    },
  });
}
