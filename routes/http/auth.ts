/**
 * Bearer-token authentication and role checks. Viewers may only read; operators may change
 * everything but users and the audit log; admins may do everything.
 */
import type { MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { ApiError } from "./errors.ts";
import type { AppEnv } from "./env.ts";
import { type Role, TokenError } from "../../lib/auth/tokens.ts";
import { ACCESS_COOKIE } from "../../lib/web/constants.ts";
import { roleRequired, VIEWERS_READ_ONLY } from "../../lib/web/wording.ts";

export function authenticate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    let token: string | undefined;
    if (header) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match) {
        throw new ApiError(
          401,
          "TOKEN_INVALID",
          "Authorization header must be 'Bearer <token>'",
          {},
          {
            "www-authenticate": 'Bearer error="invalid_request"',
          },
        );
      }
      token = match[1];
    } else {
      token = getCookie(c, ACCESS_COOKIE);
    }
    if (!token) {
      throw new ApiError(401, "TOKEN_MISSING", "authentication required", {}, {
        "www-authenticate": "Bearer",
      });
    }
    try {
      c.set("user", await c.get("app").accessTokens.verify(token));
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      const code = err.reason === "expired" ? "TOKEN_EXPIRED" : "TOKEN_INVALID";
      throw new ApiError(401, code, err.message, {}, {
        "www-authenticate": `Bearer error="invalid_token"`,
      });
    }
    await next();
  };
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Viewers read only. Everything else is checked per route with `requireRole`. */
export function viewersReadOnly(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get("user").role === "viewer" && !READ_METHODS.has(c.req.method)) {
      throw new ApiError(403, "FORBIDDEN", VIEWERS_READ_ONLY);
    }
    await next();
  };
}

export function requireRole(...roles: Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const role = c.get("user").role;
    if (!roles.includes(role)) {
      throw new ApiError(403, "FORBIDDEN", roleRequired(roles));
    }
    await next();
  };
}
