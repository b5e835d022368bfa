import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, noContent, ok, okPage } from "../../http/define.ts";
import { notFound, validationError } from "../../http/errors.ts";
import { actorOf } from "../../http/actor.ts";
import {
  commonErrors,
  conflictError,
  envelope,
  Id,
  IdParam,
  jsonBody,
  jsonResponse,
  listEnvelope,
  listQuery,
  notFoundError,
  Timestamp,
} from "./schemas.ts";
import { getByIdRoute } from "./get_by_id.ts";
import {
  discoveryProfilesRepo,
  type DiscoveryProfileWrite,
} from "../../../lib/db/discovery_profiles.ts";
import { credentialProfilesRepo } from "../../../lib/db/credential_profiles.ts";
import { parseTarget, TargetError } from "../../../lib/discovery/targets.ts";
import { audit } from "../../../lib/audit.ts";
import type { Queryable } from "../../../lib/db/driver.ts";

const DiscoveryProfile = z.object({
  id: z.number().int(),
  name: z.string(),
  credential_profile_id: z.number().int(),
  target: z.string(),
  address_count: z.number().int(),
  ports: z.array(z.number().int()),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("DiscoveryProfile");

const CreateBody = z.object({
  name: z.string().trim().min(1).max(100).openapi({ example: "Office LAN" }),
  credential_profile_id: Id,
  target: z.string().trim().min(1).max(4096).openapi({
    description:
      "a CIDR (10.0.0.0/24), a range (10.0.0.5-10.0.0.20) or a comma list of them; at most 65,536 addresses",
    example: "192.168.1.0/24",
  }),
  ports: z.array(z.number().int().min(1).max(65535)).min(1).max(16).optional().openapi({
    description: "TCP ports probed; default 5985, 5986, 135",
  }),
}).strict().openapi("DiscoveryProfileCreate");

const UpdateBody = CreateBody.partial().strict().openapi("DiscoveryProfileUpdate");
const ListQuery = listQuery(["id", "name", "created_at"]).extend({
  q: z.string().max(100).optional(),
});

export const DEFAULT_DISCOVERY_PORTS = [5985, 5986, 135];

export function registerDiscoveryProfileRoutes(app: OpenAPIHono<AppEnv>): void {
  const tags = ["discovery profiles"];
  const security = [{ bearerAuth: [] }];

  handle(
    app,
    createRoute({
      method: "get",
      path: "/discovery-profiles",
      tags,
      security,
      summary: "List discovery profiles",
      request: { query: ListQuery },
      responses: { 200: jsonResponse(listEnvelope(DiscoveryProfile), "A page"), ...commonErrors },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return okPage(c, await discoveryProfilesRepo.list(c.get("app").db, q, q.q));
    },
  );

  handle(
    app,
    createRoute({
      method: "post",
      path: "/discovery-profiles",
      tags,
      security,
      summary: "Create a discovery profile (the credential profile must exist)",
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(envelope(DiscoveryProfile), "Created"),
        ...commonErrors,
        ...notFoundError,
        ...conflictError,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const created = await c.get("app").db.transaction(async (tx) => {
        const write = await toWrite(tx, body);
        const row = await discoveryProfilesRepo.create(tx, write);
        await audit(tx, actorOf(c), "create", "discovery_profile", row.id, {
          name: row.name,
          target: row.target,
        });
        return row;
      });
      return ok(c, created, 201);
    },
  );

  getByIdRoute(app, {
    path: "/discovery-profiles/{id}",
    tags,
    summary: "Get a discovery profile",
    schema: DiscoveryProfile,
    description: "The profile",
    noun: "discovery profile",
    get: (db, id) => discoveryProfilesRepo.get(db, id),
  });

  handle(
    app,
    createRoute({
      method: "put",
      path: "/discovery-profiles/{id}",
      tags,
      security,
      summary: "Update a discovery profile; fields left out keep their value",
      request: { params: IdParam, body: jsonBody(UpdateBody) },
      responses: {
        200: jsonResponse(envelope(DiscoveryProfile), "Updated"),
        ...commonErrors,
        ...notFoundError,
        ...conflictError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const updated = await c.get("app").db.transaction(async (tx) => {
        const existing = await discoveryProfilesRepo.get(tx, id);
        if (!existing) throw notFound("discovery profile", id);
        const write = await toWrite(tx, { ...existing, ...body });
        const row = await discoveryProfilesRepo.update(tx, id, write);
        await audit(tx, actorOf(c), "update", "discovery_profile", id, {
          fields: Object.keys(body),
        });
        return row;
      });
      return ok(c, updated);
    },
  );

  handle(
    app,
    createRoute({
      method: "delete",
      path: "/discovery-profiles/{id}",
      tags,
      security,
      summary: "Delete a discovery profile; the devices it found stay",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFoundError },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await c.get("app").db.transaction(async (tx) => {
        if (!await discoveryProfilesRepo.delete(tx, id)) throw notFound("discovery profile", id);
        await audit(tx, actorOf(c), "delete", "discovery_profile", id);
      });
      return noContent(c);
    },
  );
}

async function toWrite(
  db: Queryable,
  body: { name: string; credential_profile_id: number; target: string; ports?: number[] },
): Promise<DiscoveryProfileWrite> {
  let target;
  try {
    target = parseTarget(body.target);
  } catch (e) {
    if (e instanceof TargetError) throw validationError("target", e.message);
    throw e;
  }
  if (!await credentialProfilesRepo.get(db, body.credential_profile_id)) {
    throw notFound("credential profile", body.credential_profile_id);
  }
  return {
    name: body.name,
    credential_profile_id: body.credential_profile_id,
    target: target.text,
    address_count: target.count,
    ports: [...new Set(body.ports ?? DEFAULT_DISCOVERY_PORTS)],
  };
}
