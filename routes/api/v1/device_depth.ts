/**
 * What the extended and full collection profiles tell about a device: services (with state
 * filters), top processes, event log entries (filters: level, source, event id, log, time)
 * and device events such as reboots. Read-only, so every role may call them.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok, okPage } from "../../http/define.ts";
import { dataResponse, errors, IdParam, pageResponse } from "./schemas.ts";
import { bearerRoute } from "./resource.ts";

const Time = z.string().openapi({ format: "date-time" });
const NullableTime = Time.nullable();

const Service = z.object({
  name: z.string(),
  display_name: z.string(),
  state: z.string().openapi({ example: "Running" }),
  start_mode: z.string().openapi({ example: "Auto" }),
}).openapi("DeviceService");

const Services = z.object({
  device_id: z.number().int(),
  monitor_id: z.number().int().nullable(),
  collected_at: NullableTime.openapi({
    description: "when the list was last read (null: no monitor with the extended profile yet)",
  }),
  services: z.array(Service),
}).openapi("DeviceServices");

const Process = z.object({
  name: z.string(),
  pid: z.number().int(),
  cpu_percent: z.number().nullable().openapi({
    description: "share of the whole machine; null when the host has no process counters",
  }),
  memory_bytes: z.number().openapi({ description: "working set" }),
  threads: z.number().int(),
  handles: z.number().int(),
}).openapi("DeviceProcess");

const Processes = z.object({
  device_id: z.number().int(),
  monitor_id: z.number().int().nullable(),
  collected_at: NullableTime,
  processes: z.array(Process).openapi({
    description: "the top N by CPU and the top N by working set of the newest poll (a day back)",
  }),
}).openapi("DeviceProcesses");

const EventLogEntry = z.object({
  ts: Time.openapi({ description: "TimeGenerated" }),
  log: z.string().openapi({ example: "System" }),
  record_number: z.number().int(),
  source: z.string().openapi({ example: "Service Control Manager" }),
  event_id: z.number().int().openapi({ example: 7034 }),
  level: z.enum(["critical", "error"]),
  message: z.string().nullable(),
  monitor_id: z.number().int(),
}).openapi("EventLogEntry");

const DeviceEvent = z.object({
  id: z.number().int(),
  ts: Time,
  kind: z.string().openapi({ example: "reboot" }),
  message: z.string(),
  monitor_id: z.number().int().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
}).openapi("DeviceEvent");

const optionalText = (name: string, description: string, example?: string) =>
  z.string().trim().min(1).max(256).optional().openapi({
    param: { name, in: "query" },
    description,
    example,
  });

const isoTime = (name: string, description: string) =>
  z.preprocess(
    (v) => typeof v === "string" ? v.replace(/ (\d\d:?\d\d)$/, "+$1") : v,
    z.iso.datetime({ offset: true }),
  ).optional().openapi({ param: { name, in: "query" }, description });

const ServicesQuery = z.object({
  state: optionalText("state", "only services in this state (Running, Stopped, …)", "Stopped"),
  start_mode: optionalText("start_mode", "only this start mode (Auto, Manual, Disabled)", "Auto"),
  name: optionalText("name", "name or display name contains this (case-insensitive)"),
});

const ProcessesQuery = z.object({
  sort: z.enum(["cpu", "memory"]).default("cpu"),
  name: optionalText("name", "name contains this (case-insensitive)"),
});

const EventsQuery = z.object({
  from: isoTime("from", "range start, inclusive (default: to minus one day)"),
  to: isoTime("to", "range end, exclusive (default: now)"),
  level: z.enum(["critical", "error"]).optional(),
  source: optionalText("source", "event source, exact (case-insensitive)", "Application Error"),
  event_id: z.coerce.number().int().min(0).max(65_535).optional().openapi({ example: 1000 }),
  log: optionalText("log", "System or Application", "System"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

const DeviceEventsQuery = z.object({
  kind: optionalText("kind", "only this kind (reboot)", "reboot"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export function registerDeviceDepthRoutes(app: OpenAPIHono<AppEnv>): void {
  const tags = ["devices"];

  handle(
    app,
    bearerRoute(
      {
        method: "get",
        path: "/devices/{id}/services",
        tags,
        summary: "Windows services of a device (extended or full profile), filtered by state",
        request: { params: IdParam, query: ServicesQuery },
      },
      { 200: dataResponse(Services, "The newest service list") },
      errors.notFound,
    ),
    async (c) =>
      ok(
        c,
        await c.get("app").services.deviceDepth.services(
          c.req.valid("param").id,
          c.req.valid("query"),
        ),
      ),
  );

  handle(
    app,
    bearerRoute(
      {
        method: "get",
        path: "/devices/{id}/processes",
        tags,
        summary: "Top processes of a device by CPU and by memory (extended or full profile)",
        request: { params: IdParam, query: ProcessesQuery },
      },
      { 200: dataResponse(Processes, "The newest top-process list") },
      errors.notFound,
    ),
    async (c) =>
      ok(
        c,
        await c.get("app").services.deviceDepth.processes(
          c.req.valid("param").id,
          c.req.valid("query"),
        ),
      ),
  );

  handle(
    app,
    bearerRoute(
      {
        method: "get",
        path: "/devices/{id}/events",
        tags,
        summary: "Event log errors and criticals of a device (full profile), newest first",
        request: { params: IdParam, query: EventsQuery },
      },
      { 200: pageResponse(EventLogEntry) },
      errors.notFound,
    ),
    async (c) => {
      const q = c.req.valid("query");
      const page = await c.get("app").services.deviceDepth.eventLog(c.req.valid("param").id, q);
      return okPage(c, { items: page.items, total: page.total, limit: q.limit, offset: q.offset });
    },
  );

  handle(
    app,
    bearerRoute(
      {
        method: "get",
        path: "/devices/{id}/device-events",
        tags,
        summary: "Events recorded about a device, such as a reboot, newest first",
        request: { params: IdParam, query: DeviceEventsQuery },
      },
      { 200: dataResponse(z.array(DeviceEvent), "Newest first") },
      errors.notFound,
    ),
    async (c) =>
      ok(
        c,
        await c.get("app").services.deviceDepth.deviceEvents(
          c.req.valid("param").id,
          c.req.valid("query"),
        ),
      ),
  );
}
