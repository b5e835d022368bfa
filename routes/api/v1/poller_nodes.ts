/**
 * Poller nodes (admin only): create one for a site to get its one-time enrolment token, list
 * them with their status and what they last reported, revoke one.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import { actorOf } from "../../http/actor.ts";
import {
  dataResponse,
  errors,
  Id,
  IdParam,
  IdQuery,
  listQuery,
  NullableTimestamp,
  Timestamp,
} from "./schemas.ts";
import { bearerRoute, resourceRoutes } from "./resource.ts";

const PollerNode = z.object({
  id: z.number().int(),
  site_id: z.number().int(),
  site: z.string(),
  name: z.string(),
  status: z.enum(["pending", "enrolled", "revoked"]),
  version: z.string().nullable(),
  enrolment_expires_at: NullableTimestamp,
  enrolled_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
  last_heartbeat: NullableTimestamp,
  stats: z.object({
    polls_per_s: z.number().optional(),
    buffered: z.number().optional(),
    dropped: z.number().optional(),
    dead_letters: z.number().optional(),
    monitors: z.number().optional(),
  }).openapi({ description: "what the node reported with its last heartbeat" }),
  created_at: Timestamp,
  enrolment_token: z.string().optional().openapi({
    description: "in the create answer only, shown once: start the node with " +
      "NMSLITE_ENROLMENT_TOKEN set to it",
  }),
}).openapi("PollerNode");

const CreateBody = z.object({
  site_id: Id,
  name: z.string().trim().min(1).max(64).openapi({ example: "berlin-1" }),
}).strict().openapi("PollerNodeCreate");

export function registerPollerNodeRoutes(app: OpenAPIHono<AppEnv>): void {
  resourceRoutes(app, {
    noun: "poller node",
    schema: PollerNode,
    adminOnly: true,
    service: (s) => ({
      list: (q) => s.pollerNodes.list(q),
      get: (id) => s.pollerNodes.get(id),
      create: (actor, body) => s.pollerNodes.create(actor, body),
      delete: (actor, id) => s.pollerNodes.delete(actor, id),
    }),
    list: {
      summary: "List poller nodes with status, version and last heartbeat",
      query: listQuery(["id", "name", "last_heartbeat"]).extend({ site_id: IdQuery.optional() }),
    },
    create: {
      summary: "Create a poller node for a site; answers its one-time enrolment token",
      errors: errors.notFound,
      body: CreateBody,
    },
    get: {},
    delete: { summary: "Revoke a poller node: its credential stops working at its next request" },
  });

  handle(
    app,
    bearerRoute(
      {
        method: "post",
        path: "/poller-nodes/{id}/revoke",
        tags: ["poller nodes"],
        summary: "Revoke a poller node (admin); the node keeps nothing it can use",
        request: { params: IdParam },
      },
      { 200: dataResponse(PollerNode, "Revoked") },
      { ...errors.notFound, ...errors.conflict },
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      return ok(c, await c.get("app").services.pollerNodes.revoke(actorOf(c), id));
    },
  );
}
