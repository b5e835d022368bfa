import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { conflictError, listQuery, Timestamp } from "./schemas.ts";
import { resourceRoutes } from "./resource.ts";
import { requireRole } from "../../http/auth.ts";

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
  app.use("/users", requireRole("admin"));
  app.use("/users/*", requireRole("admin"));
  resourceRoutes(app, {
    noun: "user",
    schema: User,
    service: (s) => s.users,
    list: {
      summary: "List users (admin)",
      query: listQuery(["id", "username", "role", "created_at"]),
    },
    create: { summary: "Create a user (admin)", errors: conflictError, body: CreateBody },
    get: { summary: "Get a user (admin)" },
    update: {
      summary: "Change a user's role or password (admin); their sessions end",
      body: UpdateBody,
    },
    delete: { summary: "Delete a user (admin); the last admin cannot be deleted" },
  });
}
