import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, Next } from "hono";
import { getConnInfo } from "hono/deno";
import type { AppEnv } from "../../http/env.ts";
import { handle, noContent, ok } from "../../http/define.ts";
import { ApiError } from "../../http/errors.ts";
import { envelope, ErrorSchema, jsonBody, jsonResponse } from "./schemas.ts";
import {
  InvalidCredentialsError,
  login,
  LoginThrottledError,
  logout,
  refresh,
  RefreshTokenError,
} from "../../../lib/auth/sessions.ts";
import { audit } from "../../../lib/audit.ts";

const SessionSchema = z.object({
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

const err = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

export function registerAuthRoutes(app: OpenAPIHono<AppEnv>): void {
  app.use("/auth/login", countRejectedLogins);

  handle(
    app,
    createRoute({
      method: "post",
      path: "/auth/login",
      tags: ["auth"],
      summary: "Log in: an access token (15 min) and a refresh token (7 days)",
      request: { body: jsonBody(LoginBody) },
      responses: {
        200: jsonResponse(envelope(SessionSchema), "Logged in"),
        400: err("Validation error"),
        401: err("Invalid username or password"),
        429: err("Too many failed logins"),
        503: err("The database is unavailable"),
      },
    }),
    async (c) => {
      const { username, password } = c.req.valid("json");
      const ctx = c.get("app");
      const client = clientAddress(c);
      try {
        const session = await login(ctx, client, username, password);
        await audit(
          ctx.db,
          {
            userId: session.user.id,
            username,
            requestId: c.get("requestId"),
          },
          "login",
          "session",
          session.user.id,
        );
        return ok(c, session);
      } catch (e) {
        if (e instanceof LoginThrottledError) {
          const seconds = Math.ceil(e.retryAfterMs / 1000);
          throw new ApiError(
            429,
            "TOO_MANY_REQUESTS",
            e.message,
            { retry_after_seconds: seconds },
            {
              "retry-after": String(seconds),
            },
          );
        }
        if (e instanceof InvalidCredentialsError) {
          throw new ApiError(401, "INVALID_CREDENTIALS", e.message);
        }
        throw e;
      }
    },
  );

  handle(
    app,
    createRoute({
      method: "post",
      path: "/auth/refresh",
      tags: ["auth"],
      summary: "Exchange a refresh token for new tokens (the old refresh token is rotated)",
      request: { body: jsonBody(RefreshBody) },
      responses: {
        200: jsonResponse(envelope(SessionSchema), "New tokens"),
        400: err("Validation error"),
        401: err("Refresh token invalid, expired, revoked or reused"),
        503: err("The database is unavailable"),
      },
    }),
    async (c) => {
      try {
        return ok(c, await refresh(c.get("app"), c.req.valid("json").refresh_token));
      } catch (e) {
        if (e instanceof RefreshTokenError) {
          throw new ApiError(401, `REFRESH_TOKEN_${e.reason.toUpperCase()}`, e.message);
        }
        throw e;
      }
    },
  );

  handle(
    app,
    createRoute({
      method: "post",
      path: "/auth/logout",
      tags: ["auth"],
      summary: "Revoke a refresh token and every token rotated from the same login",
      request: { body: jsonBody(RefreshBody) },
      responses: {
        204: { description: "Logged out" },
        400: err("Validation error"),
        503: err("The database is unavailable"),
      },
    }),
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
        200: jsonResponse(
          envelope(z.object({ id: z.number(), username: z.string(), role: z.string() })),
          "The user",
        ),
        401: err("Not authenticated"),
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
  if (wait > 0) {
    const e = new LoginThrottledError(wait);
    const seconds = Math.ceil(e.retryAfterMs / 1000);
    throw new ApiError(429, "TOO_MANY_REQUESTS", e.message, { retry_after_seconds: seconds }, {
      "retry-after": String(seconds),
    });
  }
  await next();
  if (c.res.status === 400) throttle.recordFailure(client, username);
}

function clientAddress(c: Parameters<typeof getConnInfo>[0]): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}
