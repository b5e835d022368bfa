import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, noContent, ok, okPage } from "../../http/define.ts";
import { ApiError, notFound } from "../../http/errors.ts";
import { actorOf } from "../../http/actor.ts";
import {
  commonErrors,
  conflictError,
  envelope,
  IdParam,
  inUseError,
  jsonBody,
  jsonResponse,
  listEnvelope,
  listQuery,
  notFoundError,
  Timestamp,
} from "./schemas.ts";
import { getByIdRoute } from "./get_by_id.ts";
import { pluginsRepo } from "../../../lib/db/plugins.ts";
import { audit } from "../../../lib/audit.ts";

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
  command: z.string().min(1).max(4096).openapi({ example: "/usr/local/bin/my-collector" }),
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
  const tags = ["plugins"];
  const security = [{ bearerAuth: [] }];

  handle(
    app,
    createRoute({
      method: "get",
      path: "/plugins",
      tags,
      security,
      summary: "List plugins (collectors)",
      request: { query: listQuery(["id", "name", "type", "created_at"]) },
      responses: { 200: jsonResponse(listEnvelope(Plugin), "A page"), ...commonErrors },
    }),
    async (c) => okPage(c, await pluginsRepo.list(c.get("app").db, c.req.valid("query"))),
  );

  handle(
    app,
    createRoute({
      method: "post",
      path: "/plugins",
      tags,
      security,
      summary: "Create an exec plugin",
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(envelope(Plugin), "Created"),
        ...commonErrors,
        ...conflictError,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const created = await c.get("app").db.transaction(async (tx) => {
        const row = await pluginsRepo.create(tx, body);
        await audit(tx, actorOf(c), "create", "plugin", row.id, { name: row.name });
        return row;
      });
      c.get("app").events.emit({ entity: "plugin", id: created.id, action: "created" });
      return ok(c, created, 201);
    },
  );

  getByIdRoute(app, {
    path: "/plugins/{id}",
    tags,
    summary: "Get a plugin",
    schema: Plugin,
    description: "The plugin",
    noun: "plugin",
    get: (db, id) => pluginsRepo.get(db, id),
  });

  handle(
    app,
    createRoute({
      method: "put",
      path: "/plugins/{id}",
      tags,
      security,
      summary: "Update an exec plugin (a built-in plugin's description only)",
      request: { params: IdParam, body: jsonBody(UpdateBody) },
      responses: {
        200: jsonResponse(envelope(Plugin), "Updated"),
        ...commonErrors,
        ...notFoundError,
        ...conflictError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const updated = await c.get("app").db.transaction(async (tx) => {
        const existing = await pluginsRepo.get(tx, id);
        if (!existing) throw notFound("plugin", id);
        if (existing.type === "builtin" && (body.name !== undefined || body.config !== undefined)) {
          throw new ApiError(
            400,
            "BUILTIN_PLUGIN",
            `plugin ${existing.name} is built in: only its description can change`,
          );
        }
        const row = await pluginsRepo.update(tx, id, {
          name: body.name ?? existing.name,
          description: body.description ?? existing.description,
          config: body.config ?? existing.config,
        });
        await audit(tx, actorOf(c), "update", "plugin", id, { fields: Object.keys(body) });
        return row;
      });
      c.get("app").events.emit({ entity: "plugin", id, action: "updated" });
      return ok(c, updated);
    },
  );

  handle(
    app,
    createRoute({
      method: "delete",
      path: "/plugins/{id}",
      tags,
      security,
      summary: "Delete an exec plugin that no monitor uses",
      request: { params: IdParam },
      responses: {
        204: { description: "Deleted" },
        ...commonErrors,
        ...inUseError,
        ...notFoundError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await c.get("app").db.transaction(async (tx) => {
        const existing = await pluginsRepo.get(tx, id);
        if (!existing) throw notFound("plugin", id);
        if (existing.type === "builtin") {
          throw new ApiError(
            400,
            "BUILTIN_PLUGIN",
            `plugin ${existing.name} is built in and cannot be deleted`,
          );
        }
        const monitors = await pluginsRepo.monitorCount(tx, id);
        if (monitors > 0) {
          throw new ApiError(400, "IN_USE", `Plugin in use by ${monitors} monitor(s)`, {
            monitors,
          });
        }
        await pluginsRepo.delete(tx, id);
        await audit(tx, actorOf(c), "delete", "plugin", id);
      });
      c.get("app").events.emit({ entity: "plugin", id, action: "deleted" });
      return noContent(c);
    },
  );
}
