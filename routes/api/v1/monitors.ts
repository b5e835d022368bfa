import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, noContent, ok, okPage } from "../../http/define.ts";
import { ApiError, notFound } from "../../http/errors.ts";
import { actorOf } from "../../http/actor.ts";
import {
  commonErrors,
  conflictError,
  envelope,
  Id,
  IdParam,
  IdQuery,
  jsonBody,
  jsonResponse,
  listEnvelope,
  listQuery,
  notFoundError,
  NullableTimestamp,
  Timestamp,
} from "./schemas.ts";
import { getByIdRoute } from "./get_by_id.ts";
import { monitorsRepo, type MonitorWrite } from "../../../lib/db/monitors.ts";
import { devicesRepo } from "../../../lib/db/devices.ts";
import { credentialProfilesRepo } from "../../../lib/db/credential_profiles.ts";
import { pluginsRepo } from "../../../lib/db/plugins.ts";
import { audit } from "../../../lib/audit.ts";
import type { Queryable } from "../../../lib/db/driver.ts";

export const MIN_POLLING_INTERVAL = 10;
export const MAX_POLLING_INTERVAL = 86_400;

const Monitor = z.object({
  id: z.number().int(),
  device_id: z.number().int(),
  credential_profile_id: z.number().int(),
  plugin_id: z.number().int(),
  polling_interval: z.number().int(),
  enabled: z.boolean(),
  last_polled: NullableTimestamp,
  last_attempted: NullableTimestamp,
  last_error: z.string().nullable(),
  last_error_at: NullableTimestamp,
  consecutive_failures: z.number().int(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("Monitor");

const id = Id;
const CreateBody = z.object({
  device_id: id,
  credential_profile_id: id,
  plugin_id: id,
  polling_interval: z.number().int().min(MIN_POLLING_INTERVAL).max(MAX_POLLING_INTERVAL).openapi({
    description: "seconds between polls (10 to 86400)",
    example: 60,
  }),
  enabled: z.boolean().default(true),
}).strict().openapi("MonitorCreate");

const UpdateBody = z.object({
  device_id: id.optional(),
  credential_profile_id: id.optional(),
  plugin_id: id.optional(),
  polling_interval: CreateBody.shape.polling_interval.optional(),
  enabled: z.boolean().optional(),
}).strict().openapi("MonitorUpdate");

const ListQuery = listQuery([
  "id",
  "device_id",
  "polling_interval",
  "last_polled",
  "last_error_at",
  "created_at",
]).extend({
  device_id: IdQuery.optional(),
  enabled: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
});

export function registerMonitorRoutes(app: OpenAPIHono<AppEnv>): void {
  const tags = ["monitors"];
  const security = [{ bearerAuth: [] }];

  handle(
    app,
    createRoute({
      method: "get",
      path: "/monitors",
      tags,
      security,
      summary: "List monitors",
      request: { query: ListQuery },
      responses: { 200: jsonResponse(listEnvelope(Monitor), "A page"), ...commonErrors },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return okPage(
        c,
        await monitorsRepo.list(c.get("app").db, q, { device_id: q.device_id, enabled: q.enabled }),
      );
    },
  );

  handle(
    app,
    createRoute({
      method: "post",
      path: "/monitors",
      tags,
      security,
      summary: "Create a monitor: a device polled with a credential profile and a plugin",
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(envelope(Monitor), "Created"),
        ...commonErrors,
        ...notFoundError,
        ...conflictError,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const created = await c.get("app").db.transaction(async (tx) => {
        await requireReferences(tx, body);
        const row = await monitorsRepo.create(tx, body);
        await markDeviceMonitored(tx, body.device_id);
        await audit(tx, actorOf(c), "create", "monitor", row.id, { ...body });
        return row;
      });
      c.get("app").events.emit({ entity: "monitor", id: created.id, action: "created" });
      return ok(c, created, 201);
    },
  );

  getByIdRoute(app, {
    path: "/monitors/{id}",
    tags,
    summary: "Get a monitor with its last poll state",
    schema: Monitor,
    description: "The monitor",
    noun: "monitor",
    get: (db, id) => monitorsRepo.get(db, id),
  });

  handle(
    app,
    createRoute({
      method: "put",
      path: "/monitors/{id}",
      tags,
      security,
      summary: "Update a monitor (interval, enabled, references); fields left out keep their value",
      request: { params: IdParam, body: jsonBody(UpdateBody) },
      responses: {
        200: jsonResponse(envelope(Monitor), "Updated"),
        ...commonErrors,
        ...notFoundError,
        ...conflictError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const updated = await c.get("app").db.transaction(async (tx) => {
        const existing = await monitorsRepo.get(tx, id);
        if (!existing) throw notFound("monitor", id);
        const write: MonitorWrite = {
          device_id: body.device_id ?? existing.device_id,
          credential_profile_id: body.credential_profile_id ?? existing.credential_profile_id,
          plugin_id: body.plugin_id ?? existing.plugin_id,
          polling_interval: body.polling_interval ?? existing.polling_interval,
          enabled: body.enabled ?? existing.enabled,
        };
        await requireReferences(tx, write);
        const row = await monitorsRepo.update(tx, id, write);
        if (write.device_id !== existing.device_id) {
          await markDeviceMonitored(tx, write.device_id);
          await releaseDevice(tx, existing.device_id);
        }
        await audit(tx, actorOf(c), "update", "monitor", id, { ...body });
        return row;
      });
      c.get("app").events.emit({ entity: "monitor", id, action: "updated" });
      return ok(c, updated);
    },
  );

  handle(
    app,
    createRoute({
      method: "delete",
      path: "/monitors/{id}",
      tags,
      security,
      summary: "Delete a monitor and its metrics",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFoundError },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await c.get("app").db.transaction(async (tx) => {
        const existing = await monitorsRepo.get(tx, id);
        if (!existing) throw notFound("monitor", id);
        await monitorsRepo.delete(tx, id);
        await releaseDevice(tx, existing.device_id);
        await audit(tx, actorOf(c), "delete", "monitor", id);
      });
      c.get("app").events.emit({ entity: "monitor", id, action: "deleted" });
      return noContent(c);
    },
  );
}

/** 404 naming each missing reference, so the user fixes them all at once. */
async function requireReferences(db: Queryable, m: MonitorWrite): Promise<void> {
  const [device, credential, plugin] = await Promise.all([
    devicesRepo.get(db, m.device_id),
    credentialProfilesRepo.get(db, m.credential_profile_id),
    pluginsRepo.get(db, m.plugin_id),
  ]);
  const missing: string[] = [];
  if (!device) missing.push(`device ${m.device_id}`);
  if (!credential) missing.push(`credential profile ${m.credential_profile_id}`);
  if (!plugin) missing.push(`plugin ${m.plugin_id}`);
  if (missing.length > 0) {
    throw new ApiError(404, "NOT_FOUND", `${missing.join(", ")} not found`, {
      missing: missing.map((m) => m.replace(/ \d+$/, "").replace(" ", "_")),
    });
  }
}

/** A device with a monitor is being monitored, unless health marked it otherwise. */
async function markDeviceMonitored(db: Queryable, deviceId: number): Promise<void> {
  await db.query(
    `UPDATE devices SET status = 'monitoring', status_changed_at = now(), updated_at = now()
     WHERE id = $1 AND status = 'discovered'`,
    [deviceId],
  );
}

async function releaseDevice(db: Queryable, deviceId: number): Promise<void> {
  await db.query(
    `UPDATE devices SET status = 'discovered', status_changed_at = now(), updated_at = now()
     WHERE id = $1 AND status = 'monitoring'
       AND NOT EXISTS (SELECT 1 FROM monitors WHERE device_id = $1)`,
    [deviceId],
  );
}
