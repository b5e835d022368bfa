/**
 * Errors are values with a status, turned into the one error envelope in one place
 * (`errorResponse`). Messages are written for the API user; internals stay in the log.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { getLogger } from "@logtape/logtape";
import {
  describePgError,
  isDatabaseUnavailable,
  UniqueViolationError,
} from "../../lib/db/driver.ts";
import { ServiceError } from "../../lib/services/errors.ts";

export { invalid as validationError, notFound } from "../../lib/services/errors.ts";

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

const STATUS_CODES: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "TOO_MANY_REQUESTS",
};

const log = getLogger(["nmslite", "http"]);

export function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return { success: false as const, error: { code, message, details: details ?? {} } };
}

export function zodErrorBody(error: ZodError) {
  const issues = error.issues.map((i) => ({
    field: i.path.join(".") || "(body)",
    message: i.message,
  }));
  const first = issues[0];
  return errorBody("VALIDATION_ERROR", `${first.field}: ${first.message}`, {
    field: first.field,
    issues,
  });
}

/**
 * The API's validation hook (every route's request schemas): a zod failure is a 400 naming the
 * field, and so is a string, anywhere in the body, query or path, holding NUL or another control
 * character, or a lone UTF-16 surrogate, and a body nested deeper than `MAX_BODY_DEPTH`.
 * PostgreSQL cannot store NUL at all, nor a lone surrogate in a JSON column (the audit log's
 * details, a plugin's config: a 500 before), and no name, address or query term needs the
 * others; free-text fields (`MULTILINE_FIELDS`) may still hold tab and line breaks. No body
 * the API takes nests more than a few levels, and what reads one further may recurse (this walk
 * did: 7,000 levels overflowed it, a 500).
 */
export function validationHook(
  result: { success: true; data: unknown } | { success: false; error: ZodError },
  c: Context,
): Response | undefined {
  if (!result.success) return c.json(zodErrorBody(result.error), 400);
  const bad = findBadString(result.data);
  if (!bad) return undefined;
  const field = bad.path.join(".") || "(body)";
  const message = `${field}: ${
    bad.kind === "depth"
      ? `nested deeper than ${MAX_BODY_DEPTH} levels`
      : bad.kind === "surrogate"
      ? "must be valid Unicode (a lone UTF-16 surrogate)"
      : bad.kind === "multiline"
      ? "must not contain NUL or control characters other than tab and line breaks"
      : "must not contain NUL or other control characters"
  }`;
  return c.json(errorBody("VALIDATION_ERROR", message, { field }), 400);
}

/** Free-text fields that may hold tab, line feed and carriage return (never NUL). */
export const MULTILINE_FIELDS = new Set([
  "description",
  "tls_ca_pem",
  // alerting: an acknowledgement's comment, channel templates and CA certificates
  "comment",
  "template",
  "bodyTemplate",
  "caPem",
]);

/** Arrays and objects inside one another in a request, at most. */
export const MAX_BODY_DEPTH = 32;

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// deno-lint-ignore no-control-regex
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

type BadKind = "control" | "multiline" | "surrogate" | "depth";

/**
 * The first string (value or key) in `value` that a request may not hold, or the first place
 * nested deeper than MAX_BODY_DEPTH, with its path. The depth is checked before going down, so
 * a body 10,000 levels deep gets its 400 after 32 calls, not a stack overflow.
 */
export function findBadString(
  value: unknown,
  path: (string | number)[] = [],
): { path: (string | number)[]; kind: BadKind } | undefined {
  if (typeof value === "string") {
    const multiline = MULTILINE_FIELDS.has(String(path[path.length - 1]));
    if ((multiline ? CONTROL_BUT_LINES : CONTROL).test(value)) {
      return { path, kind: multiline ? "multiline" : "control" };
    }
    return value.isWellFormed() ? undefined : { path, kind: "surrogate" };
  }
  if (!value || typeof value !== "object" || value instanceof Date) return undefined;
  if (path.length >= MAX_BODY_DEPTH) return { path, kind: "depth" };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findBadString(value[i], [...path, i]);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    if (CONTROL.test(k)) return { path: [...path, k.replace(CONTROL, "?")], kind: "control" };
    if (!k.isWellFormed()) return { path: [...path, k.toWellFormed()], kind: "surrogate" };
    const bad = findBadString(v, [...path, k]);
    if (bad) return bad;
  }
  return undefined;
}

export const DATABASE_UNAVAILABLE_RETRY_SECONDS = 5;
const DATABASE_UNAVAILABLE_LOG_INTERVAL_MS = 10_000;
let lastUnavailableLog = 0;

export function errorResponse(err: unknown, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message, err.details), err.status, err.headers);
  }
  if (err instanceof ServiceError) {
    const retryAfter = err.details?.retry_after_seconds;
    const headers = retryAfter === undefined ? undefined : { "retry-after": String(retryAfter) };
    return c.json(errorBody(err.code, err.message, err.details), err.status, headers);
  }
  if (isDatabaseUnavailable(err)) {
    // One line per interval, not one per request, while the outage lasts.
    const now = Date.now();
    if (now - lastUnavailableLog >= DATABASE_UNAVAILABLE_LOG_INTERVAL_MS) {
      lastUnavailableLog = now;
      log.warn("database unavailable, answering 503: {error}", { error: describePgError(err) });
    }
    return c.json(
      errorBody(
        "DATABASE_UNAVAILABLE",
        "the database is unavailable; try again shortly",
        { retry_after_seconds: DATABASE_UNAVAILABLE_RETRY_SECONDS },
      ),
      503,
      { "retry-after": String(DATABASE_UNAVAILABLE_RETRY_SECONDS) },
    );
  }
  if (err instanceof UniqueViolationError) {
    return c.json(errorBody("CONFLICT", err.message, err.details), 409);
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const message = status === 400 && /JSON/i.test(err.message)
      ? "request body is not valid JSON"
      : err.message || "request failed";
    return c.json(errorBody(STATUS_CODES[status] ?? "ERROR", message), status);
  }
  if (isUniqueViolation(err)) {
    const detail = (err as { detail?: string }).detail ?? "";
    // "Key (name)=…" or, for a case-insensitive index, "Key (lower(name))=…".
    const field = /Key \((?:lower\()?([a-z_]+)/.exec(detail)?.[1];
    return c.json(
      errorBody(
        "CONFLICT",
        field ? `${field} is already in use` : "a unique value is already in use",
        field ? { field } : {},
      ),
      409,
    );
  }
  log.error("unhandled error: {error}", { error: describe(err) });
  return c.json(errorBody("INTERNAL_ERROR", "internal server error"), 500);
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === "23505";
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${err.stack ?? ""}`;
  return String(err);
}
