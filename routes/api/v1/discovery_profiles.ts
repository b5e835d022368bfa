import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { errors, Id, searchQuery, Timestamp } from "./schemas.ts";
import { resourceRoutes } from "./resource.ts";

const DiscoveryProfile = z.object({
  id: z.number().int(),
  name: z.string(),
  credential_profile_id: z.number().int(),
  target: z.string(),
  address_count: z.number().int(),
  ports: z.array(z.number().int()),
  site_id: z.number().int().openapi({ description: "the site whose poller nodes run it" }),
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
  site_id: Id.optional().openapi({ description: "default 1 (local)" }),
}).strict().openapi("DiscoveryProfileCreate");

const UpdateBody = CreateBody.partial().strict().openapi("DiscoveryProfileUpdate");

export function registerDiscoveryProfileRoutes(app: OpenAPIHono<AppEnv>): void {
  resourceRoutes(app, {
    noun: "discovery profile",
    schema: DiscoveryProfile,
    service: (s) => s.discoveryProfiles,
    list: { query: searchQuery(["id", "name", "created_at"]) },
    create: {
      summary: "Create a discovery profile (the credential profile must exist)",
      errors: errors.notFound,
      body: CreateBody,
    },
    get: {},
    update: {
      summary: "Update a discovery profile; fields left out keep their value",
      errors: errors.conflict,
      body: UpdateBody,
    },
    delete: { summary: "Delete a discovery profile; the devices it found stay" },
  });
}
