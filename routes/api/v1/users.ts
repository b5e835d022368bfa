import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { listQuery, Timestamp } from "./schemas.ts";
import { resourceRoutes } from "./resource.ts";

const ROLE = z.enum(["admin", "operator", "viewer"]);

const User = z.object({
  id: z.number().int(),
  username: z.string(),
  role: ROLE,
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("User");

const CreateBody = z.object({
  username: z.string().trim().min(1).max(64).regex(
    /^[A-Za-z0-9._@-]+$/,
    "letters, digits, '.', '_', '@' and '-'",
  ).openapi({ example: "alice" }),
  password: z.string().min(8).max(1024).openapi({ writeOnly: true }),
  role: ROLE,
}).strict().openapi("UserCreate");

const UpdateBody = z.object({
  password: z.string().min(8).max(1024).optional().openapi({ writeOnly: true }),
  role: ROLE.optional(),
}).strict().openapi("UserUpdate");

export function registerUserRoutes(app: OpenAPIHono<AppEnv>): void {
  resourceRoutes(app, {
    noun: "user",
    schema: User,
    service: (s) => s.users,
    adminOnly: true,
    list: { query: listQuery(["id", "username", "role", "created_at"]) },
    create: { summary: "Create a user", body: CreateBody },
    get: {},
    update: {
      summary: "Change a user's role or password; their sessions end",
      body: UpdateBody,
    },
    delete: { summary: "Delete a user; the last admin cannot be deleted" },
  });
}
