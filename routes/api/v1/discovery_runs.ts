import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import { actorOf } from "../../http/actor.ts";
import {
  dataResponse,
  errors,
  IdParam,
  IdQuery,
  listQuery,
  NullableTimestamp,
  Timestamp,
} from "./schemas.ts";
import { bearerRoute, resourceRoutes } from "./resource.ts";
import { Device } from "./devices.ts";

const STATUSES = ["queued", "running", "completed", "failed", "cancelled"] as const;

const DiscoveryRun = z.object({
  id: z.number().int(),
  discovery_profile_id: z.number().int().nullable(),
  status: z.enum(STATUSES),
  addresses_total: z.number().int(),
  addresses_scanned: z.number().int(),
  hosts_found: z.number().int().openapi({ description: "hosts with a probed port open" }),
  identified: z.number().int().openapi({ description: "hosts identified over WinRM" }),
  failed: z.number().int().openapi({ description: "hosts found but not identified" }),
  ping_replies: z.number().int().openapi({ description: "addresses that answered ICMP echo" }),
  pinged: z.boolean().openapi({ description: "whether ICMP (fping) was available" }),
  error: z.string().nullable(),
  device_ids: z.array(z.number().int()),
  unidentified: z.array(z.object({
    ip: z.string(),
    open_ports: z.array(z.number().int()),
    reason: z.string(),
  })).openapi({
    description: "hosts found but not identified, with why (at most 1,000, by address); " +
      "updated while the run runs, like the counts",
  }),
  started_by: z.number().int().nullable(),
  created_at: Timestamp,
  started_at: NullableTimestamp,
  finished_at: NullableTimestamp,
}).openapi("DiscoveryRun");

const RunQuery = z.object({
  wait: z.enum(["true", "false"]).optional().openapi({
    description: "true: answer when the run has finished, with the devices it found",
  }),
});

const ListQuery = listQuery(["id", "created_at", "status"]).extend({
  discovery_profile_id: IdQuery.optional(),
  status: z.enum(STATUSES).optional(),
});

const Finished = z.object({
  found: z.number().int(),
  devices: z.array(Device),
  run: DiscoveryRun,
}).openapi("DiscoveryResult");

export function registerDiscoveryRunRoutes(app: OpenAPIHono<AppEnv>): void {
  handle(
    app,
    bearerRoute({
      method: "post",
      path: "/discovery-profiles/{id}/run",
      tags: ["discovery profiles"],
      summary: "Run discovery: 202 with the run, or with ?wait=true the result when it ends",
      request: { params: IdParam, query: RunQuery },
    }, {
      200: dataResponse(Finished, "Finished (wait=true)"),
      202: dataResponse(DiscoveryRun, "Started; poll GET /discovery-runs/{id}"),
    }, errors.notFound),
    async (c) => {
      const runs = c.get("app").services.discoveryRuns;
      const run = await runs.start(actorOf(c), c.req.valid("param").id);
      if (c.req.valid("query").wait !== "true") return ok(c, run, 202);
      return ok(c, await runs.finished(run.id));
    },
  );

  resourceRoutes(app, {
    noun: "discovery run",
    schema: DiscoveryRun,
    service: (s) => s.discoveryRuns,
    list: { summary: "List discovery runs, newest first unless sorted", query: ListQuery },
    get: { summary: "Get a discovery run and its progress" },
  });

  handle(
    app,
    bearerRoute(
      {
        method: "post",
        path: "/discovery-runs/{id}/cancel",
        tags: ["discovery runs"],
        summary: "Cancel a running discovery run; 409 when it has already ended",
        request: { params: IdParam },
      },
      { 200: dataResponse(DiscoveryRun, "Cancelled") },
      {
        ...errors.notFound,
        ...errors.conflict,
      },
    ),
    async (c) =>
      ok(c, await c.get("app").services.discoveryRuns.cancel(actorOf(c), c.req.valid("param").id)),
  );
}
