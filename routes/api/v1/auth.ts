import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, Next } from "hono";
import { getConnInfo } from "hono/deno";
import type { AppEnv } from "../../http/env.ts";
import { handle, noContent, ok } from "../../http/define.ts";
import { dataResponse, errorResponse, jsonBody } from "./schemas.ts";
import type { Responses } from "./resource.ts";
import { login, LoginThrottledError, logout, refresh } from "../../../lib/auth/sessions.ts";
import { audit } from "../../../lib/audit.ts";

export const SessionSchema = z.object({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_at: z.string(),
  refresh_token: z.string(),
  refresh_expires_at: z.string(),
  user: z.object({ id: z.number().int(), username: z.string(), role: z.string() }),
}).openapi("Session");

const LoginBody = z.object({
  username: z.string().min(1).max(64).openapi({ example: "admin" }),
  password: z.string().min(1).max(1024).openapi({ example: "change-me-now" }),
}).openapi("LoginRequest");

const RefreshBody = z.object({ refresh_token: z.string().min(1).max(512) }).openapi(
  "RefreshRequest",
);

/**
 * A route of the sign-in flow: no token needed, a JSON body; it answers `success`, 400 for a
 * malformed body, `more` and 503 while the database is down.
 */
function sessionRoute<const P extends string, const B extends z.ZodType>(
  path: P,
  summary: string,
  body: B,
  success: Responses,
  more: Responses = {},
) {
  return createRoute({
    method: "post",
    path,
    tags: ["auth"],
    summary,
    request: { body: jsonBody(body) },
    responses: {
      ...success,
      400: errorResponse("Validation error"),
      ...more,
      503: errorResponse("The database is unavailable"),
    },
  });
}

export function registerAuthRoutes(app: OpenAPIHono<AppEnv>): void {
  app.use("/auth/login", countRejectedLogins);

  handle(
    app,
    sessionRoute(
      "/auth/login",
      "Log in: an access token (15 min) and a refresh token (7 days)",
      LoginBody,
      { 200: dataResponse(SessionSchema, "Logged in") },
      {
        401: errorResponse("Invalid username or password"),
        429: errorResponse("Too many failed logins"),
      },
    ),
    async (c) => {
      const { username, password } = c.req.valid("json");
      const ctx = c.get("app");
      const session = await login(ctx, clientAddress(c), username, password);
      const actor = { userId: session.user.id, username, requestId: c.get("requestId") };
      await audit(ctx.db, actor, "login", "session", session.user.id);
      return ok(c, session);
    },
  );

  handle(
    app,
    sessionRoute(
      "/auth/refresh",
      "Exchange a refresh token for new tokens (the old refresh token is rotated)",
      RefreshBody,
      { 200: dataResponse(SessionSchema, "New tokens") },
      { 401: errorResponse("Refresh token invalid, expired, revoked or reused") },
    ),
    async (c) => ok(c, await refresh(c.get("app"), c.req.valid("json").refresh_token)),
  );

  handle(
    app,
    sessionRoute(
      "/auth/logout",
      "Revoke a refresh token and every token rotated from the same login",
      RefreshBody,
      { 204: { description: "Logged out" } },
    ),
    async (c) => {
      await logout(c.get("app"), c.req.valid("json").refresh_token);
      return noContent(c);
    },
  );

  handle(
    app,
    createRoute({
      method: "get",
      path: "/auth/me",
      tags: ["auth"],
      summary: "The authenticated user",
      security: [{ bearerAuth: [] }],
      responses: {
        200: dataResponse(
          z.object({ id: z.number(), username: z.string(), role: z.string() }),
          "The user",
        ),
        401: errorResponse("Not authenticated"),
      },
    }),
    (c) => {
      const u = c.get("user");
      return Promise.resolve(ok(c, { id: u.userId, username: u.username, role: u.role }));
    },
  );
}

/**
 * A login refused as malformed (400: a NUL in the username, a missing password…) counts toward
 * the throttle like a wrong password, and a locked-out client gets 429 whatever it sends, so
 * variants of a name cannot be used to probe around the lockout.
 */
async function countRejectedLogins(c: Context<AppEnv>, next: Next): Promise<void> {
  if (c.req.method !== "POST") return await next();
  const body = await c.req.json().catch(() => undefined);
  const username = typeof body?.username === "string" ? body.username as string : undefined;
  if (username === undefined) return await next();
  const throttle = c.get("app").loginThrottle;
  const client = clientAddress(c);
  const wait = throttle.retryAfterMs(client, username);
  if (wait > 0) throw new LoginThrottledError(wait);
  await next();
  if (c.res.status === 400) throttle.recordFailure(client, username);
}

export function clientAddress(c: Parameters<typeof getConnInfo>[0]): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}
