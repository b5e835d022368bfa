/**
 * The islands' way to the JSON API: same-origin cookies, the CSRF token echoed in a header for
 * writes, and one silent refresh (shared by concurrent calls, since a refresh token is
 * single-use) when the access token has expired. Errors carry the API's code and message.
 */
import { explainApiError } from "../lib/web/wording.ts";

export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

function csrfToken(): string {
  const m = /(?:^|;\s*)nmslite_csrf=([^;]*)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : "";
}

let refreshing: Promise<boolean> | null = null;

function refreshSession(): Promise<boolean> {
  refreshing ??= fetch("/session/refresh", {
    method: "POST",
    credentials: "same-origin",
    headers: { "x-csrf-token": csrfToken() },
  }).then((r) => r.ok).catch(() => false).finally(() => {
    setTimeout(() => refreshing = null, 1000);
  });
  return refreshing;
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (method !== "GET") headers["x-csrf-token"] = csrfToken();
  if (body !== undefined) headers["content-type"] = "application/json";
  return await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

// deno-lint-ignore no-explicit-any
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  let res = await send(method, path, body);
  if (res.status === 401 && await refreshSession()) res = await send(method, path, body);
  if (res.status === 401) {
    location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    throw new ApiCallError(401, "SESSION_ENDED", "your session has ended; please log in again");
  }
  if (res.status === 204) return undefined as T;
  const json = await res.json().catch(() => null);
  if (!res.ok || !json?.success) {
    const e = json?.error ?? {};
    throw new ApiCallError(
      res.status,
      e.code ?? "ERROR",
      e.message ?? `HTTP ${res.status}`,
      e.details ?? {},
    );
  }
  return json.data as T;
}

/** Creates (POST to the collection) or, with an id, updates (PUT) one resource. */
// deno-lint-ignore no-explicit-any
export function saveResource<T = any>(collection: string, id: number | undefined, body: unknown) {
  return id === undefined
    ? api<T>("POST", collection, body)
    : api<T>("PUT", `${collection}/${id}`, body);
}

/** The error in words for the page (lib/web/wording.ts); the API's code stays out of it. */
export function errorText(err: unknown): string {
  if (err instanceof ApiCallError) return explainApiError(err);
  // fetch rejects with a TypeError when the server cannot be reached at all
  if (err instanceof TypeError) return explainApiError({ status: 0, code: "NETWORK", message: "" });
  return err instanceof Error ? err.message : String(err);
}
