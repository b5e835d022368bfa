import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok, okPage } from "../../http/define.ts";
import { ApiError, notFound } from "../../http/errors.ts";
import { actorOf } from "../../http/actor.ts";
import {
  commonErrors,
  conflictError,
  envelope,
  IdParam,
  IdQuery,
  jsonResponse,
  listEnvelope,
  listQuery,
  notFoundError,
  NullableTimestamp,
  Timestamp,
} from "./schemas.ts";
import { getByIdRoute } from "./get_by_id.ts";
import { type DiscoveryRun as Run, discoveryRunsRepo } from "../../../lib/db/discovery_runs.ts";
import { devicesRepo } from "../../../lib/db/devices.ts";
import { audit } from "../../../lib/audit.ts";
import { DiscoveryProfileNotFoundError } from "../../../lib/discovery/discovery.ts";
import type { AppContext } from "../../../lib/app_context.ts";
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
  })),
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

function discoveryOf(app: AppContext) {
  if (!app.discovery) throw new ApiError(503, "UNAVAILABLE", "discovery is not running");
  return app.discovery;
}

export function registerDiscoveryRunRoutes(app: OpenAPIHono<AppEnv>): void {
  const tags = ["discovery runs"];
  const security = [{ bearerAuth: [] }];

  handle(
    app,
    createRoute({
      method: "post",
      path: "/discovery-profiles/{id}/run",
      tags: ["discovery profiles"],
      security,
      summary: "Run discovery: 202 with the run, or with ?wait=true the result when it ends",
      request: { params: IdParam, query: RunQuery },
      responses: {
        200: jsonResponse(envelope(Finished), "Finished (wait=true)"),
        202: jsonResponse(envelope(DiscoveryRun), "Started; poll GET /discovery-runs/{id}"),
        ...commonErrors,
        ...notFoundError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { wait } = c.req.valid("query");
      const ctx = c.get("app");
      const discovery = discoveryOf(ctx);
      let run: Run;
      try {
        run = await discovery.start(id, c.get("user")?.userId ?? null);
      } catch (err) {
        if (err instanceof DiscoveryProfileNotFoundError) throw notFound("discovery profile", id);
        throw err;
      }
      await audit(ctx.db, actorOf(c), "run", "discovery_profile", id, { run_id: run.id });
      if (wait !== "true") return ok(c, run, 202);
      await discovery.wait(run.id);
      const finished = (await discoveryRunsRepo.get(ctx.db, run.id))!;
      const devices = [];
      for (const deviceId of finished.device_ids) {
        const d = await devicesRepo.get(ctx.db, deviceId);
        if (d) devices.push(d);
      }
      return ok(c, { found: finished.identified, devices, run: finished });
    },
  );

  handle(
    app,
    createRoute({
      method: "get",
      path: "/discovery-runs",
      tags,
      security,
      summary: "List discovery runs, newest first unless sorted",
      request: { query: ListQuery },
      responses: { 200: jsonResponse(listEnvelope(DiscoveryRun), "A page"), ...commonErrors },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const sorted = q.sort ? q : { ...q, sort: "id", order: "desc" as const };
      return okPage(
        c,
        await discoveryRunsRepo.list(c.get("app").db, sorted, {
          profileId: q.discovery_profile_id,
          status: q.status,
        }),
      );
    },
  );

  getByIdRoute(app, {
    path: "/discovery-runs/{id}",
    tags,
    summary: "Get a discovery run and its progress",
    schema: DiscoveryRun,
    description: "The run",
    noun: "discovery run",
    get: (db, id) => discoveryRunsRepo.get(db, id),
  });

  handle(
    app,
    createRoute({
      method: "post",
      path: "/discovery-runs/{id}/cancel",
      tags,
      security,
      summary: "Cancel a running discovery run; 409 when it has already ended",
      request: { params: IdParam },
      responses: {
        200: jsonResponse(envelope(DiscoveryRun), "Cancelled"),
        ...commonErrors,
        ...notFoundError,
        ...conflictError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const ctx = c.get("app");
      const run = await discoveryRunsRepo.get(ctx.db, id);
      if (!run) throw notFound("discovery run", id);
      const discovery = discoveryOf(ctx);
      if (!discovery.cancel(id)) {
        throw new ApiError(409, "CONFLICT", `discovery run ${id} is ${run.status}, not running`);
      }
      await discovery.wait(id);
      await audit(ctx.db, actorOf(c), "cancel", "discovery_run", id);
      return ok(c, await discoveryRunsRepo.get(ctx.db, id));
    },
  );
}
