/**
 * The browser session's cookies. Access and refresh tokens are HttpOnly (scripts never see
 * them); the CSRF token is readable by the page so it can echo it in a header
 * (double-submit). All are Secure and SameSite=Strict.
 */
export { ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE } from "./constants.ts";

export interface CookieOptions {
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: "Strict";
  maxAge?: number;
}

export function cookieOptions(httpOnly: boolean, maxAgeSeconds?: number): CookieOptions {
  return { path: "/", httpOnly, secure: true, sameSite: "Strict", maxAge: maxAgeSeconds };
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
