/**
 * The dashboard's cookie session: log in / refresh / log out set or clear the cookies of
 * lib/web/cookies.ts; `pageSession` authenticates page requests (refreshing silently when
 * the access token has expired); `cookieCsrf` guards state-changing requests that are
 * authenticated by cookie (Origin must be ours and x-csrf-token must echo the CSRF cookie).
 * Bearer requests carry no ambient credentials, so they are left alone.
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./errors.ts";
import { getConnInfo } from "hono/deno";
import {
  ACCESS_COOKIE,
  arrivedOverHttps,
  cookieOptions,
  CSRF_COOKIE,
  CSRF_HEADER,
  newCsrfToken,
  REFRESH_COOKIE,
  sameToken,
} from "../../lib/web/cookies.ts";
import { refresh, RefreshTokenError, type Session } from "../../lib/auth/sessions.ts";
import { type AccessClaims, TokenError } from "../../lib/auth/tokens.ts";
import type { AppContext } from "../../lib/app_context.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Secure cookies only when the browser's request was HTTPS (here or at a trusted proxy). */
function secureRequest(c: Context<AppEnv>): boolean {
  let remoteAddress: string | undefined;
  try {
    remoteAddress = getConnInfo(c).remote.address;
  } catch { /* in-process request: no peer */ }
  return arrivedOverHttps(
    { url: c.req.url, remoteAddress, forwardedProto: c.req.header("x-forwarded-proto") },
    c.get("app").config.server.trusted_proxies,
  );
}

export function setSessionCookies(c: Context<AppEnv>, session: Session): void {
  const ttl = Math.floor(c.get("app").config.auth.refresh_token_ttl_ms / 1000);
  const secure = secureRequest(c);
  // The access cookie outlives its token so the server can answer TOKEN_EXPIRED (not MISSING)
  // and the page knows to refresh.
  setCookie(c, ACCESS_COOKIE, session.access_token, cookieOptions(true, ttl, secure));
  setCookie(c, REFRESH_COOKIE, session.refresh_token, cookieOptions(true, ttl, secure));
  setCookie(c, CSRF_COOKIE, newCsrfToken(), cookieOptions(false, ttl, secure));
}

export function clearSessionCookies(c: Context<AppEnv>): void {
  const secure = secureRequest(c);
  for (const name of [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE]) {
    deleteCookie(c, name, cookieOptions(name !== CSRF_COOKIE, undefined, secure));
  }
}

/** True when the request's Origin (or, lacking it, Referer) is this server. */
export function sameOrigin(c: Context): boolean {
  // Under Referrer-Policy: no-referrer (secureHeaders' default) Chromium sends "Origin: null"
  // on form posts; then the browser-set Sec-Fetch-Site (no script can forge it) decides.
  const header = c.req.header("origin");
  const origin = header && header !== "null" ? header : originOf(c.req.header("referer"));
  if (!origin) return c.req.header("sec-fetch-site") === "same-origin";
  return origin === new URL(c.req.url).origin || origin === forwardedOrigin(c);
}

function originOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).origin : undefined;
  } catch {
    return undefined;
  }
}

/** Behind a TLS proxy the request URL is http://; the Host header names what the browser saw. */
function forwardedOrigin(c: Context): string | undefined {
  const host = c.req.header("x-forwarded-host") ?? c.req.header("host");
  const proto = c.req.header("x-forwarded-proto") ?? "https";
  return host ? `${proto}://${host}` : undefined;
}

export function csrfValid(c: Context, submitted: string | undefined): boolean {
  return sameOrigin(c) && sameToken(submitted, getCookie(c, CSRF_COOKIE));
}

/** For /api/v1: cookie-authenticated writes need the CSRF header; Bearer ones do not. */
export function cookieCsrf(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const byCookie = !c.req.header("authorization") &&
      (getCookie(c, ACCESS_COOKIE) !== undefined || getCookie(c, REFRESH_COOKIE) !== undefined);
    if (byCookie && !SAFE_METHODS.has(c.req.method)) {
      if (!csrfValid(c, c.req.header(CSRF_HEADER))) {
        throw new ApiError(403, "CSRF_FAILED", "cross-site request refused (missing CSRF token)");
      }
    }
    await next();
  };
}

async function verifyAccess(app: AppContext, token: string): Promise<AccessClaims> {
  const claims = await app.accessTokens.verify(token);
  const revokedAt = app.tokenRevocations.get(claims.userId);
  if (revokedAt !== undefined && claims.issuedAt < revokedAt) {
    throw new TokenError("invalid", "token was revoked");
  }
  return claims;
}

// A page load and an island (or two tabs) may refresh with the same cookie at once; the
// second would look like a replayed token and end the login. So one refresh per token runs,
// and its result is shared for a short grace period.
const REFRESH_GRACE_MS = 10_000;
interface SharedRefresh {
  session: Promise<Session>;
  until: number;
  /** the refresh token it produced, once known */
  next?: string;
}
const refreshes = new Map<string, SharedRefresh>();

function refreshShared(app: AppContext, token: string): Promise<Session> {
  const now = Date.now();
  for (const [k, v] of refreshes) if (v.until < now) refreshes.delete(k);
  const found = refreshes.get(token);
  if (found) return found.session;
  const entry: SharedRefresh = { session: refresh(app, token), until: now + REFRESH_GRACE_MS };
  entry.session.then((s) => entry.next = s.refresh_token, () => refreshes.delete(token));
  refreshes.set(token, entry);
  return entry.session;
}

/** After logout, the shared result must not revive the session it belonged to. */
export function forgetRefresh(token: string): void {
  for (const [k, v] of refreshes) if (k === token || v.next === token) refreshes.delete(k);
}

/** Refreshes the session from the refresh cookie; null (cookies cleared) when it is gone. */
export async function refreshFromCookie(c: Context<AppEnv>): Promise<Session | null> {
  const token = getCookie(c, REFRESH_COOKIE);
  if (!token) return null;
  try {
    const session = await refreshShared(c.get("app"), token);
    setSessionCookies(c, session);
    return session;
  } catch (err) {
    if (!(err instanceof RefreshTokenError)) throw err;
    clearSessionCookies(c);
    return null;
  }
}

/**
 * Pages: the user from the access cookie, refreshed silently when expired; without a session
 * the browser goes to /login (and comes back afterwards).
 */
export function pageSession(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const app = c.get("app");
    const token = getCookie(c, ACCESS_COOKIE);
    let user: AccessClaims | undefined;
    if (token) {
      try {
        user = await verifyAccess(app, token);
      } catch (err) {
        if (!(err instanceof TokenError)) throw err;
      }
    }
    if (!user) {
      const session = await refreshFromCookie(c);
      if (session) user = await verifyAccess(app, session.access_token);
    }
    if (!user) {
      const next = c.req.path + (new URL(c.req.url).search || "");
      return c.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
    }
    c.set("user", user);
    await next();
  };
}

/** The CSRF token pages embed (for form posts) and islands send back as a header. */
export function csrfTokenOf(c: Context): string {
  return getCookie(c, CSRF_COOKIE) ?? "";
}

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}
