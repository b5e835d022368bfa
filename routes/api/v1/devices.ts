import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import { actorOf } from "../../http/actor.ts";
import {
  dataResponse,
  errorResponse,
  errors,
  Id,
  IdParam,
  Ipv4,
  nullableText,
  NullableTimestamp,
  searchQuery,
  Timestamp,
} from "./schemas.ts";
import { bearerRoute, resourceRoutes } from "./resource.ts";
import { DEVICE_STATUSES, type DeviceStatus } from "../../../lib/db/devices.ts";

const STATUS = DEVICE_STATUSES as unknown as readonly [DeviceStatus, ...DeviceStatus[]];

export const Device = z.object({
  id: z.number().int(),
  ip: z.string(),
  ...nullableText("hostname", "domain", "os", "os_version", "serial_number"),
  memory_total_bytes: z.number().nullable(),
  status: z.enum(STATUS),
  status_reason: z.string().nullable(),
  status_changed_at: NullableTimestamp,
  last_seen: NullableTimestamp,
  discovery_profile_id: z.number().int().nullable(),
  site_id: z.number().int().openapi({ description: "the site whose pollers poll it (1: local)" }),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("Device");

const text = (max: number) => z.string().trim().max(max).nullable().optional();

const CreateBody = z.object({
  ip: Ipv4,
  hostname: text(255),
  domain: text(255),
  os: text(255),
  os_version: text(100),
  serial_number: text(100),
  site_id: Id.optional().openapi({ description: "default 1 (local)" }),
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

const ListQuery = searchQuery(
  ["id", "ip", "hostname", "status", "os", "last_seen", "created_at"],
  { status: z.enum(STATUS).optional() },
  "text in the IP or hostname",
);

const DevicePoll = z.object({
  device_id: z.number().int(),
  polled: z.array(z.number().int()).openapi({ description: "monitors whose poll was started" }),
  skipped: z.array(z.number().int()).openapi({
    description: "monitors already polled by hand in the last 5 seconds",
  }),
  busy: z.array(z.number().int()).openapi({
    description: "monitors whose poll is already queued or running: not started twice",
  }),
}).openapi("DevicePoll");

export function registerDeviceRoutes(app: OpenAPIHono<AppEnv>): void {
  resourceRoutes(app, {
    noun: "device",
    schema: Device,
    service: (s) => s.devices,
    list: {
      summary: "List devices, filtered by status and by text in IP / hostname",
      query: ListQuery,
    },
    create: { summary: "Add a device by IP by hand", body: CreateBody },
    get: {},
    update: { summary: "Update a device's descriptive fields or status", body: UpdateBody },
    delete: { summary: "Delete a device that no monitor uses", errors: errors.inUse },
  });

  handle(
    app,
    bearerRoute(
      {
        method: "post",
        path: "/devices/{id}/poll",
        tags: ["devices"],
        summary: "Poll the device's enabled monitors now, outside their schedule",
        description: "Answers once the polls have started; their results update the monitors " +
          "(`last_attempted`, `last_polled`, `last_error`) and the metrics within the poll timeout.",
        request: { params: IdParam },
      },
      { 202: dataResponse(DevicePoll, "Polls started") },
      {
        ...errors.notFound,
        409: errorResponse("The device is unreachable or inactive, or has no enabled monitor"),
        503: errorResponse("Polling is turned off on this server"),
      },
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      return ok(c, await c.get("app").services.devices.pollNow(actorOf(c), id), 202);
    },
  );
}
