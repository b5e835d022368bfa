import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import {
  dataResponse,
  errors,
  Id,
  IdQuery,
  jsonBody,
  NullableTimestamp,
  searchQuery,
  Timestamp,
} from "./schemas.ts";
import { bearerRoute, resourceRoutes } from "./resource.ts";
import { handle, ok } from "../../http/define.ts";
import { actorOf } from "../../http/actor.ts";
import { COLLECTION_PROFILES } from "../../../lib/collectors/collection_profile.ts";

export const MIN_POLLING_INTERVAL = 10;
export const MAX_POLLING_INTERVAL = 86_400;

/** lib/collectors/collection_profile.ts MonitorConfig, described for OpenAPI */
const MonitorConfig = z.object({
  profile: z.enum(COLLECTION_PROFILES).optional().openapi({
    description: "what the built-in Windows plugin collects: standard (default), extended " +
      "(+ services, top processes, uptime, disk I/O, CPU per core, page file), full (+ event log)",
    example: "extended",
  }),
  top_processes: z.number().int().min(1).max(50).optional().openapi({
    description: "top N processes by CPU and by working set (default 10)",
  }),
  max_events: z.number().int().min(1).max(500).optional().openapi({
    description: "event log entries read per poll at most (default 50)",
  }),
}).strict().openapi("MonitorConfig");

const Monitor = z.object({
  id: z.number().int(),
  device_id: z.number().int(),
  credential_profile_id: z.number().int(),
  plugin_id: z.number().int(),
  polling_interval: z.number().int(),
  enabled: z.boolean(),
  config: MonitorConfig,
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
  config: MonitorConfig.optional(),
}).strict().openapi("MonitorCreate");

const UpdateBody = z.object({
  device_id: id.optional(),
  credential_profile_id: id.optional(),
  plugin_id: id.optional(),
  polling_interval: CreateBody.shape.polling_interval.optional(),
  enabled: z.boolean().optional(),
  config: MonitorConfig.optional(),
}).strict().openapi("MonitorUpdate");

/** How many monitors one bulk request may name. */
export const MAX_BULK_IDS = 10_000;

const EnableBody = z.object({
  ids: z.array(Id).min(1).max(MAX_BULK_IDS).openapi({
    description: `monitor ids, 1 to ${
      MAX_BULK_IDS.toLocaleString("en-US")
    } (a repeated id counts once)`,
    example: [1, 2, 3],
  }),
  enabled: z.boolean().openapi({ description: "true starts polling them, false stops it" }),
}).strict().openapi("MonitorsEnable");

const IdList = z.array(z.number().int());
const EnableResult = z.object({
  enabled: z.boolean(),
  changed: IdList.openapi({ description: "now in the state asked for, and were not before" }),
  unchanged: IdList.openapi({ description: "already in that state" }),
  not_found: IdList.openapi({ description: "no such monitor" }),
}).openapi("MonitorsEnableResult");

const ListQuery = searchQuery(
  ["id", "device_id", "polling_interval", "last_polled", "last_error_at", "created_at"],
  {
    device_id: IdQuery.optional(),
    enabled: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
  },
  "text in the device's hostname or IP, the plugin's name or the credential profile's name " +
    "(case-insensitive; % and _ match themselves)",
);

export function registerMonitorRoutes(app: OpenAPIHono<AppEnv>): void {
  resourceRoutes(app, {
    noun: "monitor",
    schema: Monitor,
    service: (s) => s.monitors,
    list: { query: ListQuery },
    create: {
      summary: "Create a monitor: a device polled with a credential profile and a plugin",
      errors: errors.notFound,
      body: CreateBody,
    },
    get: { summary: "Get a monitor with its last poll state" },
    update: {
      summary: "Update a monitor (interval, enabled, references); fields left out keep their value",
      errors: errors.conflict,
      body: UpdateBody,
    },
    delete: { summary: "Delete a monitor and its metrics" },
  });
  handle(
    app,
    bearerRoute({
      method: "patch",
      path: "/monitors",
      tags: ["monitors"],
      summary: "Enable or disable many monitors at once (ids that name no monitor are reported)",
      request: { body: jsonBody(EnableBody) },
    }, { 200: dataResponse(EnableResult, "What changed, by monitor id") }),
    async (c) => {
      const { ids, enabled } = c.req.valid("json");
      return ok(c, await c.get("app").services.monitors.setEnabled(actorOf(c), ids, enabled));
    },
  );
}
