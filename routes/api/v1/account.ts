/**
 * The signed-in user's own account: changing one's password (any role, viewers included).
 * lib/auth/password_change.ts holds the rules; this module maps them onto HTTP.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import { ApiError } from "../../http/errors.ts";
import { actorOf } from "../../http/actor.ts";
import { setSessionCookies } from "../../http/session.ts";
import { dataResponse, errorResponse, jsonBody } from "./schemas.ts";
import { bearerRoute } from "./resource.ts";
import { clientAddress, SessionSchema } from "./auth.ts";
import {
  changeOwnPassword,
  SamePasswordError,
  WrongPasswordError,
} from "../../../lib/auth/password_change.ts";
import { LoginThrottledError } from "../../../lib/auth/sessions.ts";

/** Paths under /api/v1 that every signed-in role may write (viewers included). */
export const SELF_SERVICE_PATHS = ["/api/v1/auth/password"] as const;

const PasswordChange = z.object({
  current_password: z.string().min(1).max(1024).openapi({ writeOnly: true }),
  new_password: z.string().min(8).max(1024).openapi({
    writeOnly: true,
    description: "at least 8 characters, different from the current one",
  }),
}).openapi("PasswordChangeRequest");

const PasswordChanged = z.object({
  user: z.object({ id: z.number().int(), username: z.string(), role: z.string() }),
  session: SessionSchema.nullable().openapi({
    description: "New tokens for a bearer client (its old ones no longer work); null when the " +
      "request came with the dashboard's cookies, which are replaced instead",
  }),
}).openapi("PasswordChanged");

export function registerAccountRoutes(app: OpenAPIHono<AppEnv>): void {
  handle(
    app,
    bearerRoute(
      {
        method: "post",
        path: "/auth/password",
        tags: ["auth"],
        summary: "Change your own password; your other sessions end",
        description: "Needs the current password. A wrong one counts as a failed login (too many " +
          "answer 429). Every refresh token of the user is revoked and earlier access tokens stop " +
          "working; the answer carries the caller's new session.",
        request: { body: jsonBody(PasswordChange) },
      },
      { 200: dataResponse(PasswordChanged, "Changed") },
      {
        403: errorResponse("The current password is wrong"),
        429: errorResponse("Too many wrong passwords"),
      },
    ),
    async (c) => {
      const { current_password: current, new_password: wanted } = c.req.valid("json");
      const user = c.get("user");
      const actor = { ...actorOf(c), userId: user.userId, username: user.username };
      const change = changeOwnPassword(c.get("app"), actor, clientAddress(c), current, wanted);
      const session = await change.catch(refused);
      const byCookie = !c.req.header("authorization");
      if (byCookie) setSessionCookies(c, session);
      return ok(c, { user: session.user, session: byCookie ? null : session });
    },
  );
}

/** A refused change as the HTTP error the document lists for it (429, 403 or 400). */
function refused(e: unknown): never {
  if (e instanceof LoginThrottledError) {
    const seconds = Math.ceil(e.retryAfterMs / 1000);
    throw new ApiError(429, "TOO_MANY_REQUESTS", e.message, {
      retry_after_seconds: seconds,
    }, { "retry-after": String(seconds) });
  }
  if (e instanceof WrongPasswordError) {
    throw new ApiError(403, "WRONG_PASSWORD", e.message, { field: "current_password" });
  }
  if (e instanceof SamePasswordError) {
    throw new ApiError(400, "VALIDATION_ERROR", `new_password: ${e.message}`, {
      field: "new_password",
    });
  }
  throw e;
}
