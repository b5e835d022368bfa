import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, noContent, ok, okPage } from "../../http/define.ts";
import { ApiError, notFound } from "../../http/errors.ts";
import { actorOf } from "../../http/actor.ts";
import {
  commonErrors,
  conflictError,
  envelope,
  IdParam,
  jsonBody,
  jsonResponse,
  listEnvelope,
  listQuery,
  notFoundError,
  Timestamp,
} from "./schemas.ts";
import { getByIdRoute } from "./get_by_id.ts";
import { usersRepo } from "../../../lib/db/users.ts";
import { refreshTokensRepo } from "../../../lib/db/refresh_tokens.ts";
import { hashPassword } from "../../../lib/auth/passwords.ts";
import { audit } from "../../../lib/audit.ts";
import { requireRole } from "../../http/auth.ts";
import type { HttpDeps } from "../../http/env.ts";

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
  const tags = ["users"];
  const security = [{ bearerAuth: [] }];
  app.use("/users", requireRole("admin"));
  app.use("/users/*", requireRole("admin"));

  handle(
    app,
    createRoute({
      method: "get",
      path: "/users",
      tags,
      security,
      summary: "List users (admin)",
      request: { query: listQuery(["id", "username", "role", "created_at"]) },
      responses: { 200: jsonResponse(listEnvelope(User), "A page"), ...commonErrors },
    }),
    async (c) => okPage(c, await usersRepo.list(c.get("app").db, c.req.valid("query"))),
  );

  handle(
    app,
    createRoute({
      method: "post",
      path: "/users",
      tags,
      security,
      summary: "Create a user (admin)",
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(envelope(User), "Created"),
        ...commonErrors,
        ...conflictError,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const ctx = c.get("app");
      const passwordHash = await hashPassword(body.password, ctx.config.auth.bcrypt_cost);
      const created = await ctx.db.transaction(async (tx) => {
        const row = await usersRepo.create(tx, {
          username: body.username,
          passwordHash,
          role: body.role,
        });
        await audit(tx, actorOf(c), "create", "user", row.id, {
          username: row.username,
          role: row.role,
        });
        return row;
      });
      return ok(c, created, 201);
    },
  );

  getByIdRoute(app, {
    path: "/users/{id}",
    tags,
    summary: "Get a user (admin)",
    schema: User,
    description: "The user",
    noun: "user",
    get: (db, id) => usersRepo.get(db, id),
  });

  handle(
    app,
    createRoute({
      method: "put",
      path: "/users/{id}",
      tags,
      security,
      summary: "Change a user's role or password (admin); their sessions end",
      request: { params: IdParam, body: jsonBody(UpdateBody) },
      responses: {
        200: jsonResponse(envelope(User), "Updated"),
        ...commonErrors,
        ...notFoundError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const ctx = c.get("app");
      const passwordHash = body.password
        ? await hashPassword(body.password, ctx.config.auth.bcrypt_cost)
        : undefined;
      const updated = await ctx.db.transaction(async (tx) => {
        const existing = await usersRepo.get(tx, id);
        if (!existing) throw notFound("user", id);
        if (existing.role === "admin" && body.role && body.role !== "admin") {
          await refuseLastAdmin(tx, "demote");
        }
        const row = await usersRepo.update(tx, id, { role: body.role, passwordHash });
        await refreshTokensRepo.revokeUser(tx, id);
        await audit(tx, actorOf(c), "update", "user", id, {
          fields: Object.keys(body),
          role: body.role,
        });
        return row;
      });
      revokeAccessTokens(ctx, id);
      return ok(c, updated);
    },
  );

  handle(
    app,
    createRoute({
      method: "delete",
      path: "/users/{id}",
      tags,
      security,
      summary: "Delete a user (admin); the last admin cannot be deleted",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFoundError },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const ctx = c.get("app");
      await ctx.db.transaction(async (tx) => {
        const existing = await usersRepo.get(tx, id);
        if (!existing) throw notFound("user", id);
        if (existing.role === "admin") await refuseLastAdmin(tx, "delete");
        await usersRepo.delete(tx, id);
        await audit(tx, actorOf(c), "delete", "user", id, { username: existing.username });
      });
      revokeAccessTokens(ctx, id);
      return noContent(c);
    },
  );
}

async function refuseLastAdmin(
  db: Parameters<typeof usersRepo.countAdmins>[0],
  what: string,
): Promise<void> {
  if (await usersRepo.countAdmins(db) <= 1) {
    throw new ApiError(400, "LAST_ADMIN", `cannot ${what} the last admin`);
  }
}

/** Access tokens issued to the user until now stop working at once. */
function revokeAccessTokens(ctx: HttpDeps, userId: number): void {
  ctx.tokenRevocations.set(userId, Math.floor(Date.now() / 1000) + 1);
}
