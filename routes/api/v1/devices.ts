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
  NullableTimestamp,
  Timestamp,
} from "./schemas.ts";
import { getByIdRoute } from "./get_by_id.ts";
import { DEVICE_STATUSES, devicesRepo } from "../../../lib/db/devices.ts";
import { isIpv4 } from "../../../lib/discovery/targets.ts";
import { audit } from "../../../lib/audit.ts";

const STATUS = DEVICE_STATUSES as unknown as readonly ["discovered", ...string[]];

export const Device = z.object({
  id: z.number().int(),
  ip: z.string(),
  hostname: z.string().nullable(),
  domain: z.string().nullable(),
  os: z.string().nullable(),
  os_version: z.string().nullable(),
  serial_number: z.string().nullable(),
  memory_total_bytes: z.number().nullable(),
  status: z.enum(STATUS),
  status_reason: z.string().nullable(),
  status_changed_at: NullableTimestamp,
  last_seen: NullableTimestamp,
  discovery_profile_id: z.number().int().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("Device");

const text = (max: number) => z.string().trim().max(max).nullable().optional();

const CreateBody = z.object({
  ip: z.string().trim().refine(isIpv4, "must be a valid IPv4 address").openapi({
    example: "192.168.1.10",
  }),
  hostname: text(255),
  domain: text(255),
  os: text(255),
  os_version: text(100),
  serial_number: text(100),
}).strict().openapi("DeviceCreate");

const UpdateBody = z.object({
  hostname: text(255),
  domain: text(255),
  os: text(255),
  os_version: text(100),
  serial_number: text(100),
  status: z.enum(STATUS).optional().openapi({
    description: "an operator can re-enable an unreachable or inactive device",
  }),
}).strict().openapi("DeviceUpdate");

const ListQuery = listQuery(["id", "ip", "hostname", "status", "os", "last_seen", "created_at"])
  .extend({
    status: z.enum(STATUS).optional(),
    q: z.string().max(100).optional().openapi({ description: "text in the IP or hostname" }),
  });

export function registerDeviceRoutes(app: OpenAPIHono<AppEnv>): void {
  const tags = ["devices"];
  const security = [{ bearerAuth: [] }];

  handle(
    app,
    createRoute({
      method: "get",
      path: "/devices",
      tags,
      security,
      summary: "List devices, filtered by status and by text in IP / hostname",
      request: { query: ListQuery },
      responses: { 200: jsonResponse(listEnvelope(Device), "A page"), ...commonErrors },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return okPage(
        c,
        await devicesRepo.list(c.get("app").db, q, {
          status: q.status as never,
          q: q.q,
        }),
      );
    },
  );

  handle(
    app,
    createRoute({
      method: "post",
      path: "/devices",
      tags,
      security,
      summary: "Add a device by IP by hand",
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(envelope(Device), "Created"),
        ...commonErrors,
        ...conflictError,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const created = await c.get("app").db.transaction(async (tx) => {
        const row = await devicesRepo.create(tx, body);
        await audit(tx, actorOf(c), "create", "device", row.id, { ip: row.ip });
        return row;
      });
      return ok(c, created, 201);
    },
  );

  getByIdRoute(app, {
    path: "/devices/{id}",
    tags,
    summary: "Get a device",
    schema: Device,
    description: "The device",
    noun: "device",
    get: (db, id) => devicesRepo.get(db, id),
  });

  handle(
    app,
    createRoute({
      method: "put",
      path: "/devices/{id}",
      tags,
      security,
      summary: "Update a device's descriptive fields or status",
      request: { params: IdParam, body: jsonBody(UpdateBody) },
      responses: {
        200: jsonResponse(envelope(Device), "Updated"),
        ...commonErrors,
        ...notFoundError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const updated = await c.get("app").db.transaction(async (tx) => {
        const row = await devicesRepo.update(tx, id, {
          ...body,
          status: body.status as never,
          status_reason: body.status ? `set by ${c.get("user").username}` : undefined,
        });
        if (!row) throw notFound("device", id);
        await audit(tx, actorOf(c), "update", "device", id, { fields: Object.keys(body) });
        return row;
      });
      c.get("app").events.emit({ entity: "device", id, action: "updated" });
      return ok(c, updated);
    },
  );

  handle(
    app,
    createRoute({
      method: "delete",
      path: "/devices/{id}",
      tags,
      security,
      summary: "Delete a device that no monitor uses",
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
        if (!await devicesRepo.get(tx, id)) throw notFound("device", id);
        const monitors = await devicesRepo.monitorCount(tx, id);
        if (monitors > 0) {
          throw new ApiError(400, "IN_USE", `Device in use by ${monitors} monitor(s)`, {
            monitors,
          });
        }
        await devicesRepo.delete(tx, id);
        await audit(tx, actorOf(c), "delete", "device", id);
      });
      return noContent(c);
    },
  );
}
