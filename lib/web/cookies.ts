/**
 * The browser session's cookies. Access and refresh tokens are HttpOnly (scripts never see
 * them); the CSRF token is readable by the page so it can echo it in a header
 * (double-submit). All are SameSite=Strict, and Secure when the request arrived over HTTPS
 * (directly, or through a configured trusted proxy that says so): a browser keeps no Secure
 * cookie from a plain-HTTP server on another machine, so a --plain-http server would have no
 * session otherwise.
 */
export const ACCESS_COOKIE = "nmslite_access";
export const REFRESH_COOKIE = "nmslite_refresh";
export const CSRF_COOKIE = "nmslite_csrf";
export const CSRF_HEADER = "x-csrf-token";

export interface CookieOptions {
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: "Strict";
  maxAge?: number;
}

export function cookieOptions(
  httpOnly: boolean,
  maxAgeSeconds?: number,
  secure = true,
): CookieOptions {
  return { path: "/", httpOnly, secure, sameSite: "Strict", maxAge: maxAgeSeconds };
}

/** What decides whether a request arrived over HTTPS. */
export interface RequestTransport {
  /** the request URL as the server saw it (https: when TLS ended here) */
  url: string;
  /** the peer's address (the proxy, when there is one) */
  remoteAddress?: string;
  /** the X-Forwarded-Proto header, believed only from a trusted proxy */
  forwardedProto?: string;
}

/** "::ffff:10.0.0.1" -> "10.0.0.1"; IPv6 in lower case. */
function normalizeAddress(address: string): string {
  const a = address.trim().toLowerCase().replace(/^\[|\]$/g, "");
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

/**
 * True when the browser's request was HTTPS: TLS ended at this server, or the peer is one of
 * `trustedProxies` and its X-Forwarded-Proto (first value: the client-facing hop) is https.
 */
export function arrivedOverHttps(
  req: RequestTransport,
  trustedProxies: readonly string[],
): boolean {
  if (req.url.startsWith("https:")) return true;
  if (!req.remoteAddress || !req.forwardedProto || trustedProxies.length === 0) return false;
  const peer = normalizeAddress(req.remoteAddress);
  if (!trustedProxies.some((p) => normalizeAddress(p) === peer)) return false;
  return req.forwardedProto.split(",")[0].trim().toLowerCase() === "https";
}

export function newCsrfToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/** Constant-time comparison of two tokens. */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
