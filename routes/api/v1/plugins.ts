import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { errors, listQuery, Timestamp } from "./schemas.ts";
import { resourceRoutes } from "./resource.ts";
import { requireRole } from "../../http/auth.ts";

const Plugin = z.object({
  id: z.number().int(),
  name: z.string(),
  type: z.enum(["builtin", "exec"]),
  description: z.string(),
  config: z.record(z.string(), z.unknown()),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("Plugin");

/** An exec plugin runs `command args…` with a JSON document on stdin (README: plugins). */
const ExecConfig = z.object({
  command: z.string().min(1).max(4096).openapi({
    description: "an executable in the plugin directory (plugins.dir): its name, or its path there",
    example: "my-collector",
  }),
  args: z.array(z.string().max(4096)).max(64).default([]),
  timeout_ms: z.number().int().min(100).max(300_000).default(30_000),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(4096)).optional(),
}).strict().openapi("ExecPluginConfig");

const CreateBody = z.object({
  name: z.string().trim().min(1).max(100).regex(
    /^[a-z0-9][a-z0-9._-]*$/,
    "lowercase letters, digits, '.', '_' and '-'",
  ).openapi({ example: "disk-smart" }),
  description: z.string().max(1000).default(""),
  config: ExecConfig,
}).strict().openapi("PluginCreate");

const UpdateBody = z.object({
  name: CreateBody.shape.name.optional(),
  description: z.string().max(1000).optional(),
  config: ExecConfig.optional(),
}).strict().openapi("PluginUpdate");

export function registerPluginRoutes(app: OpenAPIHono<AppEnv>): void {
  // An exec plugin is code run on the server with decrypted credentials: admins only.
  app.on(["POST", "PUT", "PATCH", "DELETE"], ["/plugins", "/plugins/*"], requireRole("admin"));
  resourceRoutes(app, {
    noun: "plugin",
    schema: Plugin,
    service: (s) => s.plugins,
    list: {
      summary: "List plugins (collectors)",
      query: listQuery(["id", "name", "type", "created_at"]),
    },
    create: {
      summary: "Create an exec plugin (admin; its command must be in the plugin directory)",
      body: CreateBody,
    },
    get: {},
    update: {
      summary: "Update an exec plugin (admin; a built-in plugin's description only)",
      errors: errors.conflict,
      body: UpdateBody,
    },
    delete: { summary: "Delete an exec plugin that no monitor uses (admin)", errors: errors.inUse },
  });
}
