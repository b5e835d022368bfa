/**
 * The session's cookie and header names, shared by the server (lib/web/cookies.ts,
 * routes/http) and the browser (islands/api.ts): plain constants, safe to bundle.
 */
/** HttpOnly: the access token (a JWT) */
export const ACCESS_COOKIE = "nmslite_access";
/** HttpOnly: the refresh token */
export const REFRESH_COOKIE = "nmslite_refresh";
/** readable by the page, which echoes it in CSRF_HEADER (double submit) */
export const CSRF_COOKIE = "nmslite_csrf";
export const CSRF_HEADER = "x-csrf-token";
